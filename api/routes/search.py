"""``GET /v1/search``: the tenant's indexed videos searched by event query (full text + vectors, fused).

The query is embedded in this process by the configured sentence embedder's ONNX Runtime (NumPy without it),
loaded on the first search: the same vectors the workers' torch runtime stores, without torch in the API process.
Recent queries' vectors are kept, so the next page of a search does not embed its query again.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import MAX_ID, CurrentTenant, EngineDep, SettingsDep
from api.schemas import ErrorPublic, SearchHitPublic, SearchPagePublic
from vidground.index.embed import QueryVectors
from vidground.index.records import Source

router = APIRouter(tags=["search"], responses={401: {"model": ErrorPublic}})
_embedder_lock = threading.Lock()


def get_query_vectors(request: Request, settings: SettingsDep) -> QueryVectors:
    """The app's query embedder behind a cache of recent queries' vectors, made on first use (the weights load on
    the first query); ``app.state.embedder`` may be set beforehand to embed with another one."""
    with _embedder_lock:
        if request.app.state.query_vectors is None:
            if request.app.state.embedder is None:
                from vidground.index.embed import get_embedder, query_runtime

                request.app.state.embedder = get_embedder(settings.embedder, runtime=query_runtime())
            request.app.state.query_vectors = QueryVectors(request.app.state.embedder)
        query_vectors: QueryVectors = request.app.state.query_vectors
        return query_vectors


QueryVectorsDep = Annotated[QueryVectors, Depends(get_query_vectors)]


@router.get("/v1/search")
async def search(
    engine: EngineDep,
    tenant: CurrentTenant,
    query_vectors: QueryVectorsDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="The event to look for.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    video_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    source: Source | None = None,
) -> SearchPagePublic:
    """Places in the caller's videos that match ``q``, best first; ``next_cursor`` pages on."""
    from vidground.index.sql.search import search as run_search
    from vidground.index.sql.search import semantic_text

    page = await run_in_threadpool(
        lambda: run_search(
            engine,
            query=q,
            query_vector=lambda: query_vectors(semantic_text(q)),  # made while the word list is drawn
            embedder_name=query_vectors.embedder.name,
            tenant=tenant,
            limit=limit,
            cursor=cursor,
            video_id=video_id,
            source=source,
        )
    )
    return SearchPagePublic(
        query=q, hits=[SearchHitPublic.from_record(h) for h in page.hits], next_cursor=page.next_cursor
    )
