"""Videos arriving at the API: a multipart upload streamed to the storage folder, or a file under the import root.

An upload is never whole in memory and written once: the request body goes through a streaming multipart parser
(python-multipart) straight into a temporary file in the storage folder, hashed (sha256) and counted as it
arrives; past the size cap it stops at once (413). The caller probes the finished file and renames it to
``<sha256><ext>``; every failure path deletes the temporary file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from vidground.errors import ConfigError, NotFoundError, PathNotAllowedError, UploadTooLargeError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

logger = logging.getLogger(__name__)

FILE_FIELD = "file"
SUBTITLES_FIELD = "subtitles"  # an optional .srt/.vtt beside the video, kept in memory: it is small
MAX_FIELD_BYTES = 64 * 1024  # a form field beside the file (options, webhook_url)
MAX_SUBTITLES_BYTES = 8 * 1024 * 1024
MULTIPART_SLACK_BYTES = 1024 * 1024  # boundaries, part headers and small fields on top of the file itself
VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv", ".wmv", ".y4m"}
)
HASH_CHUNK_BYTES = 1 << 20


class UploadError(ConfigError):
    """A request body that is not the multipart upload the API expects (no file field, a broken body)."""


@dataclass
class ReceivedUpload:
    """The file part of an upload, written to ``path`` (a temporary name in the storage folder)."""

    path: Path
    content_hash: str
    size_bytes: int
    filename: str | None  # as the client sent it: only its suffix is ever used, never as a path
    fields: dict[str, str] = field(default_factory=dict)
    subtitles: bytes | None = None  # the ``subtitles`` part, when sent
    subtitles_filename: str | None = None

    @property
    def suffix(self) -> str:
        """The stored file's extension: the client's when it is a known video one, else ``.video``."""
        suffix = PureWindowsPath(PurePosixPath(self.filename or "").name).suffix.lower()
        return suffix if suffix in VIDEO_SUFFIXES else ".video"


class _Receiver:
    """python-multipart callbacks: the ``file`` part to disk (hashed, counted, capped), other small fields to memory."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.temp = folder / f".upload-{uuid.uuid4().hex}.part"
        self.digest = hashlib.sha256()
        self.size = 0
        self.filename: str | None = None
        self.fields: dict[str, str] = {}
        self.subtitles: bytes | None = None
        self.subtitles_filename: str | None = None
        self.finished = False
        self._stream: BinaryIO | None = None
        self._seen_file = False
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self._field: bytearray | None = None
        self._field_name = ""
        self._field_cap = MAX_FIELD_BYTES

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add_name(data[start:end]),
            "on_header_value": lambda data, start, end: self._add_value(data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._headers, self._name, self._value = {}, b"", b""

    def _add_name(self, data: bytes) -> None:
        self._name += data

    def _add_value(self, data: bytes) -> None:
        self._value += data

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name == FILE_FIELD:
            if self._seen_file:
                raise UploadError("upload: more than one 'file' part; send one video per request")
            self._seen_file = True
            raw = params.get(b"filename")
            self.filename = None if raw is None else raw.decode("utf-8", "replace")
            self._stream = self.temp.open("xb")
        else:
            self._field, self._field_name = bytearray(), name
            self._field_cap = MAX_SUBTITLES_BYTES if name == SUBTITLES_FIELD else MAX_FIELD_BYTES
            if name == SUBTITLES_FIELD:
                raw = params.get(b"filename")
                self.subtitles_filename = None if raw is None else raw.decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._stream is not None:
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise UploadTooLargeError(
                    f"upload: larger than the limit of {self.max_bytes} bytes (VIDGROUND_MAX_UPLOAD_BYTES); "
                    "send a smaller file or import it from the server's disk"
                )
            self.digest.update(chunk)
            self._stream.write(chunk)
        elif self._field is not None:
            self._field += chunk
            if len(self._field) > self._field_cap:
                raise UploadError(f"upload: form field {self._field_name!r} is over {self._field_cap} bytes")

    def _part_end(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        elif self._field is not None:
            if self._field_name == SUBTITLES_FIELD:
                self.subtitles = bytes(self._field)
            else:
                self.fields[self._field_name] = self._field.decode("utf-8", "replace")
            self._field = None

    def _end(self) -> None:
        self.finished = True

    def discard(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self.temp.unlink(missing_ok=True)


async def receive_upload(request: Request, *, folder: Path, max_bytes: int) -> ReceivedUpload:
    """Stream a ``multipart/form-data`` body's ``file`` part into a temporary file in ``folder``.

    Raises:
        UploadTooLargeError: the file (or the declared body) is over ``max_bytes``.
        UploadError: not multipart, no boundary, no ``file`` part, an empty file, a body cut short.
    """
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError("upload: the multipart body has no boundary; send the video as form field 'file'")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + MULTIPART_SLACK_BYTES:
        raise UploadTooLargeError(
            f"upload: {declared} bytes declared, over the limit of {max_bytes} bytes (VIDGROUND_MAX_UPLOAD_BYTES)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(folder, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not receiver._seen_file:
            raise UploadError("upload: no form field 'file'; send the video as multipart field 'file'")
        if not receiver.finished:
            raise UploadError("upload: the multipart body ended before its closing boundary; send it again")
        if receiver.size == 0:
            raise UploadError("upload: the file is empty (0 bytes); send a video file")
    except ClientDisconnect:
        receiver.discard()
        raise UploadError("upload: the client disconnected before the body was complete") from None
    except FormParserError as exc:
        receiver.discard()
        raise UploadError(f"upload: the multipart body is malformed ({exc})") from None
    except BaseException:  # our own errors, a cancelled request: no partial file stays behind
        receiver.discard()
        raise
    # On disk before a row points at it: a crash after the response must not lose an accepted upload.
    await run_in_threadpool(_fsync, receiver.temp)
    return ReceivedUpload(
        path=receiver.temp,
        content_hash=receiver.digest.hexdigest(),
        size_bytes=receiver.size,
        filename=receiver.filename,
        fields=receiver.fields,
        subtitles=receiver.subtitles or None,
        subtitles_filename=receiver.subtitles_filename,
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_import(root: Path | None, given: str) -> Path:
    """The file a JSON import names: ``given`` relative to the import root (or absolute, inside it).

    Raises:
        ConfigError: imports are not enabled (no import root configured).
        PathNotAllowedError: ``..`` in the path, or it leads outside the root (absolute elsewhere, a symlink out).
        NotFoundError: no such file under the root.
    """
    if root is None:
        raise ConfigError("importing server files is off; set VIDGROUND_IMPORT_ROOT to the folder to import from")
    if "\x00" in given:
        raise PathNotAllowedError(f"path {given!r}: contains a NUL character")
    if ".." in PurePosixPath(given).parts or ".." in PureWindowsPath(given).parts:
        raise PathNotAllowedError(f"path {given!r}: '..' is not allowed; give a path inside the import root")
    base = root.resolve()
    candidate = Path(given) if os.path.isabs(given) else base / given
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base):
        raise PathNotAllowedError(f"path {given!r}: leads outside the import root; give a file inside it")
    if not resolved.is_file():
        raise NotFoundError(f"path {given!r}: no such file under the import root")
    return resolved
