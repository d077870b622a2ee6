"""Notifications of a cron audit (webhook, mail): see :mod:`exposcan.audit.notify.deliver`."""
