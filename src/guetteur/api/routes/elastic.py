"""`/es`: what Elasticsearch clients need to send logs (Filebeat, Winlogbeat, Elastic Agent,
Fluent Bit, Vector, Logstash, the official clients).

- `GET /es/` and `HEAD /es/`: cluster information; `X-Elastic-Product: Elasticsearch` on every
  answer (recent clients refuse a server without it).
- `POST|PUT /es/_bulk` and `/es/{index}/_bulk`: the items of the body (`collect/es_bulk.py`)
  go to the pipeline as `shipper_document` records (`parse/shipper_document.py`). The answer
  comes once the stored items are committed (an acknowledgement means durable): 200 with one
  result per item, 201 for a stored one, 400 for a malformed one, 429 for the ones the full
  pipeline could not take (the shipper retries those only); 406 for a body that is not JSON
  (`text/plain`, a form). `?source=NAME` names the parser
  for raw lines (Filebeat: `output.elasticsearch.parameters`).
- The calls shippers make at start (license, `_xpack`, `_nodes`, index templates, ILM
  policies, ingest pipelines, data streams, `_security/_authenticate`...) are answered as an
  Elasticsearch that already has everything and accepts every change would answer:
  Guetteur parses, keeps and expires events itself, so there is nothing to set up.

Credentials: an ingest key as `ApiKey`, `Basic` (password) or `Bearer` (`ElasticIngestKey`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response

from guetteur.api.deps import ElasticIngestKey, State
from guetteur.api.ingest_body import BodyLimits, read_lines
from guetteur.collect.es_bulk import CREATED, BulkItem, bulk_response, split_bulk
from guetteur.model import RawRecord
from guetteur.parse import PARSERS
from guetteur.parse.shipper_document import NAME as SHIPPER_DOCUMENT
from guetteur.pipeline.receipts import Receipt

router = APIRouter(prefix="/es", tags=["elasticsearch"])

SOURCE = "es_bulk"
PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
RETRY_AFTER_SECONDS = 1
_COMPATIBLE = "application/vnd.elasticsearch+json"
# what Elasticsearch takes for a bulk body (its clients send the vendor types)
_BULK_MEDIA_TYPES = frozenset({"application/x-ndjson", "application/json", "application/vnd.elasticsearch+x-ndjson",
                               "application/vnd.elasticsearch+json"})


def es_response(request: Request, body: Any, status_code: int = 200, **headers: str) -> Response:
    """An answer as Elasticsearch gives it: the product header, and the media type the client
    asked for (`compatible-with=N` clients get theirs back)."""
    accept = request.headers.get("accept", "")
    media = "application/json"
    if _COMPATIBLE in accept:
        media = _COMPATIBLE + (";" + accept.split(";", 1)[1].replace(" ", "") if ";" in accept else "")
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(content, status_code=status_code, media_type=media, headers={**PRODUCT_HEADERS, **headers})


def es_error(request: Request, status_code: int, error_type: str, reason: str, **headers: str) -> Response:
    return es_response(request, {"error": {"type": error_type, "reason": reason,
                                           "root_cause": [{"type": error_type, "reason": reason}]},
                                 "status": status_code}, status_code, **headers)


def cluster_info(version: str) -> dict[str, Any]:
    """`GET /`: the version is `api.elasticsearch_version` (Beats and Elastic Agent refuse an
    Elasticsearch older than themselves; the clients of every major since 7.14 accept a newer one)."""
    return {
        "name": "guetteur", "cluster_name": "guetteur", "cluster_uuid": "Z3VldHRldXItZXMtY29tcGF0",
        "version": {"number": version, "build_flavor": "default", "build_type": "tar",
                    "build_hash": "guetteur", "build_date": "2025-07-17T00:00:00.000Z", "build_snapshot": False,
                    "lucene_version": "10.2.2", "minimum_wire_compatibility_version": "8.19.0",
                    "minimum_index_compatibility_version": "8.0.0"},
        "tagline": "You Know, for Search",
    }


@router.get("", summary="cluster information (Elasticsearch clients check it first)")
@router.get("/", summary="cluster information (Elasticsearch clients check it first)")
async def root(request: Request, state: State, key: ElasticIngestKey) -> Response:
    return es_response(request, cluster_info(state.settings.api.elasticsearch_version))


@router.head("", summary="cluster is up")
@router.head("/", summary="cluster is up")
async def root_head(request: Request, key: ElasticIngestKey) -> Response:
    return Response(status_code=200, headers=PRODUCT_HEADERS)


_INTO_INDEX = "bulk-index documents into an index (its name gives `event.dataset`)"
_BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "one result per item: 201 stored (committed), 400 malformed, 429 pipeline full "
                         "(retry those items)"},
    413: {"description": "body larger than api.max_body_bytes or more than 2 x api.max_records_per_request lines"},
    503: {"description": "database unavailable, or the commit took longer than pipeline.commit_wait"},
}


@router.post("/_bulk", responses=_BULK_RESPONSES, summary="bulk-index documents")
@router.put("/_bulk", responses=_BULK_RESPONSES, summary="bulk-index documents")
async def bulk(request: Request, state: State, key: ElasticIngestKey,
               source: str | None = Query(None, max_length=64, description="parser for raw lines")) -> Response:
    return await _bulk(request, state, key.name, None, source)


@router.post("/{index}/_bulk", responses=_BULK_RESPONSES, summary=_INTO_INDEX)
@router.put("/{index}/_bulk", responses=_BULK_RESPONSES, summary=_INTO_INDEX)
async def bulk_into(request: Request, state: State, key: ElasticIngestKey, index: str,
                    source: str | None = Query(None, max_length=64, description="parser for raw lines")) -> Response:
    return await _bulk(request, state, key.name, index, source)


async def _bulk(request: Request, state: State, key_name: str, index: str | None, source: str | None) -> Response:
    started = time.monotonic()
    if state.database is not None and not state.database.available:
        return es_error(request, 503, "unavailable", "database unavailable, retry later",
                        **{"Retry-After": str(state.database.retry_after())})
    if source is not None and source not in PARSERS:
        return es_error(request, 400, "illegal_argument_exception",
                        f"unknown source {source!r}; known: {sorted(PARSERS)}")
    media = request.headers.get("content-type", "application/x-ndjson").split(";", 1)[0].strip().lower()
    if media not in _BULK_MEDIA_TYPES:
        return es_error(request, status.HTTP_406_NOT_ACCEPTABLE, "media_type_header_exception",
                        f"Content-Type header [{media}] is not supported: send application/x-ndjson")
    pipeline = state.pipeline
    if pipeline is None:
        return es_error(request, 503, "unavailable", "ingestion is not running")
    settings = state.settings
    limits = BodyLimits(max_bytes=settings.api.max_body_bytes, max_records=2 * settings.api.max_records_per_request,
                        max_record_bytes=settings.pipeline.max_record_bytes, timeout=settings.api.body_timeout)
    try:
        lines = await read_lines(request, limits)
    except HTTPException as exc:
        return es_error(request, exc.status_code, "parse_exception", str(exc.detail), **(exc.headers or {}))
    items = await asyncio.to_thread(split_bulk, lines, index, settings.pipeline.max_record_bytes)
    del lines
    peer = f"{request.client.host}:{request.client.port}" if request.client else None
    records, stored = await asyncio.to_thread(_records, peer, items, key_name, source)
    receipt = Receipt(len(records))
    try:
        accepted = pipeline.offer_upto(records, 0, receipt) if records else 0
    except RuntimeError:
        return es_error(request, 503, "unavailable", "Guetteur is shutting down, retry later",
                        **{"Retry-After": str(RETRY_AFTER_SECONDS)})
    receipt.release(len(records) - accepted)
    for item in stored[accepted:]:
        item.fail(429, "es_rejected_execution_exception", "pipeline full: retry this item later")
    if not await receipt.wait(settings.pipeline.commit_wait):
        return es_error(request, 503, "unavailable",
                        "items accepted but not yet committed (database slow or away); they may still be "
                        "stored: a retry can store them twice", **{"Retry-After": str(RETRY_AFTER_SECONDS)})
    body = await asyncio.to_thread(bulk_response, items, int((time.monotonic() - started) * 1000))
    return es_response(request, body)


def _records(peer: str | None, items: list[BulkItem], key_name: str,
             source: str | None) -> tuple[list[RawRecord], list[BulkItem]]:
    """The records to offer for the items that carry a document, and those items, in order."""
    now = time.time()
    metas: dict[str | None, dict[str, Any]] = {}  # one per index: pickled once per batch
    records: list[RawRecord] = []
    stored: list[BulkItem] = []
    for item in items:
        if item.status != CREATED or item.document is None:
            continue
        meta = metas.get(item.index)
        if meta is None:
            meta = metas[item.index] = {"api_key": key_name, "index": item.index, "message_hint": source}
        if item.truncated:  # not JSON any more: stored as text, unparsed
            records.append(RawRecord(item.document, now, SOURCE, None, peer, {**meta, "truncated": True}))
        else:
            records.append(RawRecord(item.document, now, SOURCE, SHIPPER_DOCUMENT, peer, meta))
        stored.append(item)
    return records, stored


# --- what shippers call at start ----------------------------------------------------------

_LICENSE = {"license": {"status": "active", "uid": "00000000-0000-0000-0000-000000000000", "type": "basic",
                        "issue_date": "2025-01-01T00:00:00.000Z", "issue_date_in_millis": 1735689600000,
                        "max_nodes": 1000, "max_resource_units": None, "issued_to": "guetteur",
                        "issuer": "elasticsearch", "start_date_in_millis": -1}}
_INGEST_PROCESSORS = ("append", "convert", "date", "dissect", "dot_expander", "drop", "geoip", "grok", "gsub",
                      "json", "kv", "lowercase", "pipeline", "remove", "rename", "script", "set", "split",
                      "trim", "uppercase", "uri_parts", "urldecode", "user_agent", "community_id", "fingerprint",
                      "registered_domain", "network_direction")


_SET_UP = "the set-up calls of shippers (license, templates, ILM, pipelines...), answered as done"


def _named(parts: list[str], position: int) -> str:
    return parts[position] if len(parts) > position else "guetteur"


def management_answer(method: str, parts: list[str], key_name: str, version: str) -> Any:
    """The body Elasticsearch would give for a set-up call to `/{parts}` when all is in place."""
    if method in ("PUT", "POST", "DELETE"):
        return {"acknowledged": True}
    first = parts[0] if parts else ""
    name = _named(parts, 1)
    answers: dict[str, Any] = {
        "_license": lambda: _LICENSE,
        "_xpack": lambda: {"build": {"hash": "guetteur", "date": "2025-07-17T00:00:00.000Z"},
                           "license": {**_LICENSE["license"], "mode": "basic"},
                           "features": {feature: {"available": True, "enabled": True}
                                        for feature in ("ilm", "security", "monitoring", "slm")}},
        "_nodes": lambda: {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "guetteur",
                           "nodes": {"guetteur": {"name": "guetteur", "version": version, "roles": ["ingest"],
                                                  "ingest": {"processors": [{"type": t} for t in _INGEST_PROCESSORS]},
                                                  "modules": [], "plugins": []}}},
        "_cluster": lambda: {"cluster_name": "guetteur", "status": "green", "timed_out": False,
                             "number_of_nodes": 1, "number_of_data_nodes": 1, "persistent": {}, "transient": {}},
        "_index_template": lambda: {"index_templates": [{"name": name, "index_template": {
            "index_patterns": [f"{name}*"], "composed_of": [], "template": {}, "data_stream": {}}}]},
        "_component_template": lambda: {"component_templates": [{"name": name, "component_template": {
            "template": {}}}]},
        "_template": lambda: {name: {"order": 1, "index_patterns": [f"{name}*"], "settings": {}, "mappings": {},
                                     "aliases": {}}},
        "_ilm": lambda: {_named(parts, 2): {"version": 1, "modified_date": "2025-01-01T00:00:00.000Z", "policy": {
            "phases": {"hot": {"min_age": "0ms", "actions": {}}}}}},
        "_ingest": lambda: {_named(parts, 2): {"description": "Guetteur parses events itself", "processors": []}},
        "_data_stream": lambda: {"data_streams": [{"name": name, "timestamp_field": {"name": "@timestamp"},
                                                   "indices": [], "generation": 1, "status": "GREEN",
                                                   "template": name}]},
        "_security": lambda: {"username": key_name, "roles": ["ingest"], "full_name": None, "email": None,
                              "metadata": {}, "enabled": True, "authentication_type": "api_key",
                              "api_key": {"id": key_name, "name": key_name}},
        "_alias": lambda: {},
    }
    answer = answers.get(first)
    return answer() if answer is not None else {name or first: {"aliases": {}, "mappings": {}, "settings": {}}}


@router.get("/{target:path}", summary=_SET_UP)
@router.head("/{target:path}", summary=_SET_UP)
@router.put("/{target:path}", summary=_SET_UP)
@router.post("/{target:path}", summary=_SET_UP)
@router.delete("/{target:path}", summary=_SET_UP)
async def management(request: Request, state: State, key: ElasticIngestKey, target: str) -> Response:
    parts = [part for part in target.split("/") if part]
    if request.method == "HEAD":
        return Response(status_code=200, headers=PRODUCT_HEADERS)
    if parts and parts[-1] in ("_bulk", "_doc", "_create") and request.method in ("GET", "DELETE"):
        return es_error(request, status.HTTP_405_METHOD_NOT_ALLOWED, "method_not_allowed",
                        f"{request.method} is not allowed on /{target}")
    if parts and parts[-1] in ("_doc", "_create", "_update", "_search", "_delete_by_query", "_update_by_query"):
        return es_error(request, 400, "illegal_argument_exception",
                        f"/{target} is not supported: send documents with _bulk")
    return es_response(request, management_answer(request.method, parts, key.name,
                                                  state.settings.api.elasticsearch_version))
