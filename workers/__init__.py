"""Celery GPU workers and the beat schedule (not built yet; see the README's "Not done yet")."""
