"""The programme manager's web console on `serve` (bot/webconsole/routes.py)."""
