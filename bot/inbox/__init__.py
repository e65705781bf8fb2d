"""The inbox's workers: every `serve` process drains the stored inbound requests (bot layer)."""
