"""Celery workers: the app (``app``), thin tasks (``tasks``), the per-process model runtime, scheduled scans."""
