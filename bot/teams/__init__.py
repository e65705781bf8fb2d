"""Microsoft Teams adapter: Bot Framework activities in, markdown and Adaptive Cards out."""
