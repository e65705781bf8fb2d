"""Slack adapter: Bolt on POST /slack/events (or Socket Mode), Block Kit out, DMs for prompts."""
