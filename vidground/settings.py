"""The one Settings object, read from ``VIDGROUND_*`` variables by the shells (CLI, API, workers) only.

The knobs that change a result take their defaults and bounds from :data:`vidground.options.KNOBS`, so a variable
and its flag accept the same values; :meth:`Settings.options` turns the settings plus explicit overrides into the
one :class:`~vidground.options.AnalysisOptions` value the library takes. The core never imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vidground.ocr import OcrOptions
from vidground.options import (
    DEFAULT_MODEL_ID,
    KNOBS,
    AnalysisOptions,
    DecoderName,
    ResizeMode,
    SnapTarget,
    check_device,
    merge_options,
)
from vidground.speech import SpeechOptions


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"

    @classmethod
    def _missing_(cls, value: object) -> LogLevel | None:  # any case: debug, Debug, DEBUG
        return next((m for m in cls if isinstance(value, str) and m.value == value.upper()), None)


def _knob(name: str) -> Any:
    """A pydantic field with the knob's default and bounds (finite numbers only)."""
    knob = KNOBS[name]
    constraints: dict[str, Any] = {}
    if knob.kind in (int, float):
        constraints = {k: v for k, v in (("gt", knob.gt), ("ge", knob.ge), ("le", knob.le)) if v is not None}
    if knob.kind is float:
        constraints["allow_inf_nan"] = False
    return Field(knob.default, description=knob.help, **constraints)


def _default_data_dir() -> Path:
    """~/.local/share/vidground; as root /var/lib/vidground, as the embedded PostgreSQL must not live in /root."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/vidground")
    return Path.home() / ".local" / "share" / "vidground"


class Settings(BaseSettings):
    """Where vidground finds its model, data and services, and the default of every knob (``VIDGROUND_<NAME>``)."""

    model_config = SettingsConfigDict(env_prefix="VIDGROUND_", env_file=None, extra="ignore")

    model_id: str = DEFAULT_MODEL_ID
    model_revision: str | None = None
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")

    # Knobs that change a result (vidground.options.KNOBS): defaults and bounds come from there.
    fps: float | None = _knob("fps")
    nframes: int | None = _knob("nframes")
    min_frames: int = _knob("min_frames")
    max_frames: int = _knob("max_frames")
    min_pixels: int | None = _knob("min_pixels")
    max_pixels: int | None = _knob("max_pixels")
    total_pixels: int | None = _knob("total_pixels")
    max_tokens: int | None = _knob("max_tokens")
    decoder: DecoderName = _knob("decoder")
    resize: ResizeMode = _knob("resize")
    decode_threads: int = _knob("decode_threads")
    resize_threads: int = _knob("resize_threads")
    max_new_tokens: int | None = _knob("max_new_tokens")
    max_windows: int = _knob("max_windows")
    batch_size: int = _knob("batch_size")
    torch_threads: int | None = _knob("torch_threads")
    snap: SnapTarget = _knob("snap")
    snap_tolerance_s: float = _knob("snap_tolerance_s")

    database_url: str | None = None  # unset: the embedded PostgreSQL under data_dir (vidground.index.sql.engine)
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Field(default_factory=_default_data_dir)
    embedder: str = Field(default="all-MiniLM-L6-v2", description="Sentence embedder of the index's segments.")
    asr_model: str = Field(default="tiny.en", description="Whisper model: tiny.en (bundled), a folder or a hub id.")
    asr_language: str = Field(default="en", description="Spoken language code, or 'auto' to detect it.")
    ocr_fps: float = Field(default=1.0, gt=0, allow_inf_nan=False, description="Frames read for text per second.")

    log_level: LogLevel = LogLevel.WARNING
    debug: bool = Field(default=False, description="Show tracebacks of unexpected failures.")

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return check_device(value)

    def knob_values(self) -> dict[str, object]:
        """The configured value of every knob (start and end have none: they are per video)."""
        return {name: getattr(self, name, None) for name in KNOBS}

    def options(self, overrides: Mapping[str, object] | None = None) -> AnalysisOptions:
        """These settings with explicit overrides (knob name -> value, None = not given) on top.

        Raises:
            ConfigError: a value outside its bounds (named as ``--flag``), fps and nframes both given.
        """
        return merge_options(self.knob_values(), overrides or {})

    def speech_options(self, *, model: str | None = None, language: str | None = None) -> SpeechOptions:
        """Transcription options: these settings with a command's ``--asr-model`` / ``--language`` on top."""
        chosen = (language or self.asr_language).strip()
        return SpeechOptions(model=model or self.asr_model, language=None if chosen == "auto" else chosen)

    def ocr_options(self, *, fps: float | None = None) -> OcrOptions:
        """On-screen text options: these settings with a command's ``--ocr-fps`` on top."""
        return OcrOptions(fps=fps or self.ocr_fps)

    # The REST API (api/): where uploads are kept, how large one may be, the server folder JSON imports may name.
    storage_dir: Path | None = Field(default=None, description="Uploaded videos (default: data_dir/videos).")
    max_upload_bytes: int = Field(default=20 * 1024**3, gt=0, description="Largest upload accepted, in bytes.")
    import_root: Path | None = Field(default=None, description="Folder whose files POST /v1/videos may import.")
    thumbnail_cache_bytes: int = Field(
        default=256 * 1024**2, ge=0, description="Disk kept for thumbnails under data_dir/thumbnails (oldest go)."
    )
    media_token_ttl_s: float = Field(
        default=3600.0, gt=0, description="How long a signed URL of a video file (for the web page's player) lasts."
    )

    @property
    def storage_root(self) -> Path:
        """Where uploaded videos are stored: ``storage_dir``, else ``data_dir/videos``."""
        return self.storage_dir if self.storage_dir is not None else self.data_dir / "videos"

    # Workers (Celery, workers/app.py): time limits, process recycling, the stale-job sweeper, scheduled ingestion.
    task_soft_time_limit_s: float = Field(default=3600.0, gt=0, description="A task is told to stop (job failed).")
    task_time_limit_s: float = Field(default=3900.0, gt=0, description="A task's process is killed (hard limit).")
    worker_max_tasks_per_child: int = Field(default=50, ge=1, description="Recycle a worker process after N tasks.")
    worker_concurrency: int = Field(default=1, ge=1, description="Worker processes (one per GPU).")
    visibility_margin_s: float = Field(
        default=300.0, gt=0, description="Broker visibility timeout = hard limit + this (else long jobs run twice)."
    )
    sweep_interval_s: float = Field(default=300.0, gt=0, description="How often beat runs the stale-job sweeper.")
    ingest_sources: list[str] = Field(
        default_factory=list, description="Folder globs or manifest files beat scans (JSON list in the variable)."
    )
    ingest_interval_s: float = Field(default=3600.0, gt=0, description="How often beat scans ingest_sources.")
    webhook_retry_base_s: float = Field(
        default=10.0, gt=0, description="First wait before a failed webhook delivery is retried (then x3 each time)."
    )

    @model_validator(mode="after")
    def _check_time_limits(self) -> Settings:
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise ValueError(
                f"VIDGROUND_TASK_SOFT_TIME_LIMIT_S ({self.task_soft_time_limit_s}) must be below "
                f"VIDGROUND_TASK_TIME_LIMIT_S ({self.task_time_limit_s}): the soft limit lets a job fail cleanly"
            )
        return self


__all__ = ["DEFAULT_MODEL_ID", "DecoderName", "LogLevel", "ResizeMode", "Settings", "check_device"]
