"""The error types vidground raises.

Every error a user can cause is a :class:`VidgroundError`. Its message is one line that says which input was wrong,
what was expected and what to do. The shells map them once each: the CLI to exit codes (``exit_code``), the API to
HTTP statuses (``http_status``), workers to a failed job carrying the message.

A broken internal invariant is an :class:`InternalError`, deliberately *not* a VidgroundError: a handler that
catches user errors must never show a bug as "your input was wrong", and one that does not know InternalError
treats it as the unexpected failure it is (CLI exit 1, HTTP 500, a logged traceback).
"""

from __future__ import annotations


class VidgroundError(Exception):
    """Base of every error vidground raises on purpose."""

    exit_code: int = 2
    http_status: int = 400


class ConfigError(VidgroundError):
    """A setting or option has a value vidground cannot work with."""


class DatabaseUnavailable(ConfigError):
    """The database server could not be reached (down, wrong host or port, refused the connection)."""

    http_status = 503


class VideoDecodeError(VidgroundError):
    """A file could not be probed or decoded as video (corrupt, truncated, empty, audio-only, not a video)."""

    http_status = 422

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DecoderBackendError(VidgroundError):
    """A decoding backend is unknown, not installed, or failed on a file. Never silently replaced by another."""

    http_status = 422

    def __init__(self, backend: str, path: object | None, reason: str) -> None:
        self.backend = backend
        self.path = None if path is None else str(path)
        self.reason = reason
        where = f" on {self.path}" if self.path else ""
        super().__init__(f"decoder backend {backend!r}{where}: {reason}")


class SamplingError(VidgroundError):
    """The sampling parameters cannot produce a valid frame plan for this video."""

    http_status = 422


class TimecodeError(VidgroundError, ValueError):
    """A timecode string or value could not be formatted or parsed."""


class ModelNotAvailable(VidgroundError):
    """Model weights could not be found or loaded (no cache, offline, wrong path, incomplete folder)."""

    http_status = 503


class ModelOutputError(VidgroundError):
    """The model's answer could not be turned into a result (kept raw on the error for the report)."""

    http_status = 502

    def __init__(self, message: str, *, raw: str = "") -> None:
        self.raw = raw
        super().__init__(message)


class EvalDataError(VidgroundError):
    """A ground-truth or predictions file for ``vidground eval`` is malformed."""


class SubtitleError(VidgroundError):
    """A subtitle file could not be read as SubRip or WebVTT (unreadable, no cues, a timing line that is wrong)."""

    http_status = 422

    def __init__(self, path: object, reason: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}: line {line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class NotFoundError(VidgroundError):
    """A stored object (video, job, result) does not exist."""

    http_status = 404


class InternalError(Exception):
    """An invariant vidground itself should keep was broken: a bug to report, never the user's input.

    Not a :class:`VidgroundError`, so ``except VidgroundError`` never swallows it as a user mistake. The CLI maps it
    to exit 1 with ``error: internal error: ...`` and logs it; any other shell treats it as an unexpected failure
    (HTTP 500, a failed job with its traceback).
    """


class AuthenticationError(VidgroundError):
    """An API request without a valid key: none given, unknown, or revoked."""

    http_status = 401


class PathNotAllowedError(VidgroundError):
    """A path names a file outside the folder it must stay in (``..``, an absolute path elsewhere, a symlink out)."""

    http_status = 403


class UploadTooLargeError(VidgroundError):
    """An upload is larger than the configured cap."""

    http_status = 413
