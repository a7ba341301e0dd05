"""API keys of the service: one tenant per key, only the key's sha256 stored.

``create`` returns the plain key once (``vg_`` + 43 URL-safe characters, 256 random bits); the database keeps its
sha256, a display prefix (its first 11 characters, e.g. ``vg_Xq3k9aZ1``) that names it in lists, and a per-key
secret that signs the webhooks of the jobs made with it. ``authenticate`` turns a presented key into its record;
a revoked key authenticates no more.

A media token (:func:`media_token`) lets a browser's ``<video>`` element, which cannot send a header, fetch one
video's file for a while: ``<key id>.<video id>.<expiry unix s>.<HMAC>``, signed with a subkey of the key's secret.
It names one video, expires, and dies with its key when that is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from vidground.errors import AuthenticationError, ConfigError, NotFoundError
from vidground.index.sql.models import ApiKey

KEY_PREFIX = "vg_"
PREFIX_CHARS = 11  # "vg_" + 8 characters: enough to tell keys apart in a list, far too few to guess the rest
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ApiKeyRecord:
    """A stored key, without its secret parts."""

    id: int
    tenant: str
    name: str | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``key`` is the only copy of the plain key there will ever be; ``webhook_secret`` signs the
    webhooks of its jobs (``vidground.webhooks``; :func:`webhook_secret` reads it again)."""

    record: ApiKeyRecord
    key: str
    webhook_secret: str


def hash_key(key: str) -> str:
    """The stored form of a key: its sha256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def create(engine: Engine, *, tenant: str, name: str | None = None) -> NewKey:
    """A new key for ``tenant``.

    Raises:
        ConfigError: the tenant name is not 1-64 letters, digits, ``_``, ``.`` or ``-`` (starting with one of the
            first two).
    """
    if not TENANT_PATTERN.match(tenant):
        raise ConfigError(
            f"tenant {tenant!r}: expected 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with Session(engine) as session, session.begin():
        row = ApiKey(
            tenant=tenant,
            name=name,
            key_hash=hash_key(key),
            prefix=key[:PREFIX_CHARS],
            webhook_secret=secrets.token_hex(32),
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        return NewKey(record=_record(row), key=key, webhook_secret=row.webhook_secret)


def list_keys(engine: Engine, *, tenant: str | None = None) -> list[ApiKeyRecord]:
    """Every key (of one tenant, when given), oldest first, revoked ones included."""
    query = select(ApiKey).order_by(ApiKey.id)
    if tenant is not None:
        query = query.where(ApiKey.tenant == tenant)
    with Session(engine) as session:
        return [_record(row) for row in session.scalars(query)]


def revoke(engine: Engine, ref: str) -> ApiKeyRecord:
    """Revoke the key with this id or display prefix (revoking twice keeps the first time).

    Raises:
        NotFoundError: no key has this id or prefix.
        ConfigError: the prefix matches several keys.
    """
    conditions = [ApiKey.prefix == ref]
    if ref.isdigit():
        conditions.append(ApiKey.id == int(ref))
    with Session(engine) as session, session.begin():
        rows = session.scalars(select(ApiKey).where(or_(*conditions)).with_for_update()).all()
        if not rows:
            raise NotFoundError(f"no API key has id or prefix {ref!r}; `vidground keys list` shows them")
        if len(rows) > 1:
            raise ConfigError(f"{ref!r} matches {len(rows)} API keys; give the key's id instead")
        row = rows[0]
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        session.flush()
        return _record(row)


def authenticate(engine: Engine, key: str) -> ApiKeyRecord:
    """The live key record of a presented key.

    Raises:
        AuthenticationError: no such key, or it was revoked.
    """
    with Session(engine) as session:
        row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        if row is None:
            raise AuthenticationError("API key not recognised; send `Authorization: Bearer KEY` with a valid key")
        if row.revoked_at is not None:
            raise AuthenticationError(f"API key {row.prefix} was revoked; ask for a new one (vidground keys create)")
        return _record(row)


def webhook_secret(engine: Engine, key_id: int) -> str:
    """The secret that signs the webhooks of jobs made with this key.

    Raises:
        NotFoundError: no such key.
    """
    with Session(engine) as session:
        secret = session.scalar(select(ApiKey.webhook_secret).where(ApiKey.id == key_id))
        if secret is None:
            raise NotFoundError(f"API key {key_id} not found")
        return secret


_MEDIA_SUBKEY_LABEL = b"vidground media token v1"  # keeps these MACs apart from the webhook signatures


def _media_mac(secret: str, key_id: int, video_id: int, expires_s: int) -> str:
    subkey = hmac.new(secret.encode(), _MEDIA_SUBKEY_LABEL, hashlib.sha256).digest()
    return hmac.new(subkey, f"{key_id}.{video_id}.{expires_s}".encode(), hashlib.sha256).hexdigest()


def media_token(engine: Engine, key: ApiKeyRecord, video_id: int, *, expires_s: int) -> str:
    """A token that lets whoever holds it read video ``video_id``'s file until ``expires_s`` (unix seconds).

    The caller checks that the key's tenant owns the video; :func:`check_media_token` checks it again on use.
    """
    mac = _media_mac(webhook_secret(engine, key.id), key.id, video_id, expires_s)
    return f"{key.id}.{video_id}.{expires_s}.{mac}"


def check_media_token(engine: Engine, token: str, *, video_id: int, now_s: float) -> ApiKeyRecord:
    """The live key that signed ``token`` for this video.

    Raises:
        AuthenticationError: the token is malformed, for another video, expired, forged, or its key is gone or
            revoked.
    """
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 18 for p in parts[:3]):  # 18 digits fit a bigint
        raise AuthenticationError("media token malformed; ask POST /v1/videos/{id}/file-url for a new link")
    key_id, token_video, expires_s = (int(p) for p in parts[:3])
    if token_video != video_id:
        raise AuthenticationError(f"media token is for video {token_video}, not {video_id}")
    if expires_s < now_s:
        raise AuthenticationError("media token expired; ask POST /v1/videos/{id}/file-url for a new link")
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
        expected = "" if row is None else _media_mac(row.webhook_secret, key_id, video_id, expires_s)
        if row is None or not hmac.compare_digest(expected, parts[3]):
            raise AuthenticationError("media token not valid; ask POST /v1/videos/{id}/file-url for a new link")
        if row.revoked_at is not None:
            raise AuthenticationError(f"media token's API key {row.prefix} was revoked")
        return _record(row)
