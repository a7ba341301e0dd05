"""The one Settings object. Read only at the shells (CLI, API, workers) and passed down as plain values."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DecoderName(StrEnum):
    PYAV = "pyav"
    DECORD = "decord"


class ResizeMode(StrEnum):
    """``reference``: qwen-vl-utils' float bicubic (the pixels Qwen evaluated with). ``fast``: torch's uint8 kernel."""

    REFERENCE = "reference"
    FAST = "fast"


DEFAULT_MODEL_ID = "Qwen/Qwen2.5-VL-3B-Instruct"


def check_device(value: str) -> str:
    """Return ``value`` if it names a device vidground accepts (auto, cpu, cuda, cuda:N); else raise ValueError."""
    index = value.removeprefix("cuda:")
    if value not in ("auto", "cpu", "cuda") and not (value.startswith("cuda:") and index.isdigit()):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {value!r}")
    return value


class Settings(BaseSettings):
    """Every knob that changes a result is here and is recorded with the result."""

    model_config = SettingsConfigDict(env_prefix="VIDGROUND_", env_file=None, extra="ignore")

    model_id: str = DEFAULT_MODEL_ID
    model_revision: str | None = None
    device: str = Field(default="auto", description="auto, cpu, cuda or cuda:N")

    decoder: DecoderName = DecoderName.PYAV
    resize: ResizeMode = ResizeMode.REFERENCE
    decode_threads: int = Field(default=2, ge=0, le=64)

    fps: float = Field(default=2.0, gt=0, le=60)
    min_frames: int = Field(default=4, ge=2)
    max_frames: int = Field(default=768, ge=2, le=4096)
    max_tokens: int = Field(default=24576, ge=64)
    min_pixels: int = Field(default=16 * 28 * 28, ge=28 * 28)
    max_pixels: int = Field(default=768 * 28 * 28, ge=28 * 28)

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/vidground"
    redis_url: str = "redis://127.0.0.1:6379/0"
    data_dir: Path = Path.home() / ".local" / "share" / "vidground"

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        return check_device(value)
