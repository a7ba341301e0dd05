"""Dependencies of the routes, as ``Annotated`` aliases: the settings, the engine and store, the caller's key.

``CurrentKey`` / ``CurrentTenant`` read ``Authorization: Bearer KEY``; a missing, unknown or revoked key is an
:class:`~vidground.errors.AuthenticationError` (401). Every query a route makes is scoped to that tenant.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from vidground import keys
from vidground.errors import AuthenticationError
from vidground.index.sql.store import PostgresStore
from vidground.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API key from `vidground keys create --tenant NAME`.")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> PostgresStore:
    store: PostgresStore = request.app.state.store
    return store


def get_engine(store: Annotated[PostgresStore, Depends(get_store)]) -> Engine:
    return store.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[PostgresStore, Depends(get_store)]
EngineDep = Annotated[Engine, Depends(get_engine)]

# Ids are PostgreSQL bigints: a larger number in a path is a 422 here, not a 500 from the database.
MAX_ID = 2**63 - 1
VideoId = Annotated[int, Path(ge=1, le=MAX_ID, description="A video's id.")]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="A job's id.")]


def current_key(
    engine: EngineDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> keys.ApiKeyRecord:
    """The caller's live API key.

    Raises:
        AuthenticationError: no bearer key, or one that is unknown or revoked.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("missing API key; send `Authorization: Bearer KEY` (vidground keys create)")
    return keys.authenticate(engine, credentials.credentials)


CurrentKey = Annotated[keys.ApiKeyRecord, Depends(current_key)]


def current_tenant(key: CurrentKey) -> str:
    return key.tenant


CurrentTenant = Annotated[str, Depends(current_tenant)]


def media_tenant(
    video_id: int,
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None, Query(max_length=200, description="A signed link's token (POST .../file-url), instead of a key.")
    ] = None,
) -> str:
    """The tenant of a request for one video's file: a bearer key, else a media token for this video (a browser's
    ``<video>`` element cannot send a header).

    Raises:
        AuthenticationError: neither is given, or the one given is not valid (see ``keys.check_media_token``).
    """
    if credentials is None and token:
        return keys.check_media_token(engine, token, video_id=video_id, now_s=time.time()).tenant
    return current_key(engine, credentials).tenant


MediaTenant = Annotated[str, Depends(media_tenant)]
