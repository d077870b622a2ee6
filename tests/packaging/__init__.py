"""Packaging: the built wheel installed as users install it (pipx), and what
the project ships beside it (Dockerfile, systemd units, cron). Slow: they build
wheels; kept apart from the unit tests."""
