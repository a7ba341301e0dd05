"""What one worker process keeps between tasks: its settings, store, embedder and the one model runner.

Made on a process's first task (:func:`runtime`), never in the parent before the pool starts: the database engine
and the model belong to the process that made them. The runner is built on the first task that needs the model and
loads its weights on first use; a process is recycled after ``worker_max_tasks_per_child`` tasks, which is how its
memory comes back.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidground.index.embed import Embedder
    from vidground.index.sql.store import PostgresStore
    from vidground.ingest import Enrichers
    from vidground.model.base import VideoRunner
    from vidground.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class WorkerRuntime:
    """A worker process's long-lived parts (one per process: :func:`runtime`)."""

    settings: Settings
    store: PostgresStore
    embedder: Embedder
    _runner: VideoRunner | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _enrichers: Enrichers | None = field(default=None, repr=False)

    def enrichers(self) -> Enrichers:
        """The process's speech model and OCR engine (each loads on its first use)."""
        with self._lock:
            if self._enrichers is None:
                from vidground.ingest import Enrichers

                self._enrichers = Enrichers()
            return self._enrichers

    def runner(self) -> VideoRunner:
        """The process's model runner, built on first call (its weights load on first use, under its own lock)."""
        with self._lock:
            if self._runner is None:
                from vidground.model.runner import QwenRunner

                logger.info("model runner model_id=%s device=%s", self.settings.model_id, self.settings.device)
                self._runner = QwenRunner(
                    self.settings.model_id, revision=self.settings.model_revision, device=self.settings.device
                )
            return self._runner


_runtime: WorkerRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> WorkerRuntime:
    """This process's runtime, made on first call from the environment's Settings.

    Raises:
        ConfigError: invalid settings, an unknown embedder, or a database that is unreachable or not migrated.
    """
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            from vidground.cli import _settings
            from vidground.cli_index import open_store
            from vidground.index.embed import get_embedder

            settings = _settings()  # a bad variable: one ConfigError line naming it, as in the CLI
            _runtime = WorkerRuntime(settings, open_store(settings), get_embedder(settings.embedder))
        return _runtime
