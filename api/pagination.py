"""Opaque page cursors over id-ordered lists (newest first): the cursor names the last id of the page before."""

from __future__ import annotations

import base64
import binascii

from vidground.errors import ConfigError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def make_cursor(kind: str, last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def read_cursor(kind: str, cursor: str | None) -> int | None:
    """The id a cursor of this list stops before; None for the first page.

    Raises:
        ConfigError: the cursor is not one this list handed out.
    """
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isdigit():
        raise ConfigError(f"cursor {cursor[:40]!r}: not a cursor of this list; pass next_cursor from the last page")
    return int(number)
