"""`POST /v1/logs`: OpenTelemetry logs over OTLP/HTTP (protobuf or JSON, gzip or not).

The path is OTLP's default, so an exporter or the Collector only needs the API's address as
its endpoint. Answers follow the OTLP/HTTP specification: 200 with an
`ExportLogsServiceResponse` (in the request's encoding) once every record is committed,
`partial_success.rejected_log_records` counting the empty records left out (not to be
retried); 400 with a `google.rpc.Status` for a body that is not a logs request, 415 for
another content type, 413 past the body limits (permanent), 429 and 503 with `Retry-After`
when the pipeline is full or the database away (the exporter retries). A request is stored
whole or not at all, so a retry never stores a record twice. Mapping: `collect/otlp_logs.py`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from guetteur.api.deps import ElasticIngestKey, State
from guetteur.api.ingest_body import BodyLimits, read_body
from guetteur.collect.otlp_logs import OtlpError, check_body_type, decode
from guetteur.model import RawRecord
from guetteur.parse.shipper_document import NAME as SHIPPER_DOCUMENT
from guetteur.pipeline.receipts import Receipt

router = APIRouter(tags=["opentelemetry"])

SOURCE = "otlp"
RETRY_AFTER_SECONDS = 1
_PROTOBUF = "application/x-protobuf"


def _answer(kind: str, rejected: int, message: str = "") -> Response:
    if kind == "protobuf":
        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = message
        return Response(response.SerializeToString(), media_type=_PROTOBUF)
    body: dict[str, Any] = {}
    if rejected:
        body["partialSuccess"] = {"rejectedLogRecords": str(rejected), "errorMessage": message}
    return Response(orjson.dumps(body), media_type="application/json")


def _failure(kind: str, status_code: int, message: str, retry_after: int | None = None) -> Response:
    """An OTLP error: a `google.rpc.Status` in the request's encoding (JSON when unknown)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if kind == "protobuf":
        return Response(Status(code=_GRPC_CODES.get(status_code, 2), message=message).SerializeToString(),
                        status_code=status_code, media_type=_PROTOBUF, headers=headers)
    return Response(orjson.dumps({"code": _GRPC_CODES.get(status_code, 2), "message": message}),
                    status_code=status_code, media_type="application/json", headers=headers)


# HTTP status -> google.rpc.Code (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE...)
_GRPC_CODES = {400: 3, 408: 4, 413: 3, 415: 3, 429: 8, 503: 14}


@router.post("/v1/logs", summary="OpenTelemetry logs (OTLP/HTTP, protobuf or JSON)",
             responses={200: {"description": "every record committed (ExportLogsServiceResponse)"},
                        400: {"description": "not an OTLP logs request"},
                        413: {"description": "body or record count over the limits"},
                        415: {"description": "content type other than application/x-protobuf or application/json"},
                        429: {"description": "pipeline full: retry after Retry-After seconds"},
                        503: {"description": "database unavailable or commit slower than pipeline.commit_wait"}})
async def export_logs(request: Request, state: State, key: ElasticIngestKey) -> Response:
    try:
        kind = check_body_type(request.headers.get("content-type", ""))
    except OtlpError as exc:
        return _failure("json", 415, str(exc))
    if state.database is not None and not state.database.available:
        return _failure(kind, 503, "database unavailable, retry later", state.database.retry_after())
    pipeline = state.pipeline
    if pipeline is None:
        return _failure(kind, 503, "ingestion is not running", RETRY_AFTER_SECONDS)
    settings = state.settings
    capacity = min(settings.api.max_records_per_request, pipeline.buffer.capacity)
    limits = BodyLimits(max_bytes=settings.api.max_body_bytes, max_records=capacity,
                        max_record_bytes=settings.pipeline.max_record_bytes, timeout=settings.api.body_timeout)
    try:
        body = await read_body(request, limits)
    except HTTPException as exc:
        return _failure(kind, exc.status_code, str(exc.detail))
    peer = f"{request.client.host}:{request.client.port}" if request.client else None
    try:
        records, rejected = await asyncio.to_thread(_records, kind, body, peer, key.name,
                                                    settings.pipeline.max_record_bytes)
    except OtlpError as exc:
        return _failure(kind, 400, str(exc))
    del body
    if len(records) > capacity:
        return _failure(kind, 413, f"{len(records)} log records in one request; send at most {capacity}")
    receipt = Receipt(len(records))
    if records and not pipeline.offer_many(records, receipt):
        return _failure(kind, 429, "pipeline full, retry later", RETRY_AFTER_SECONDS)
    if not await receipt.wait(settings.pipeline.commit_wait):
        return _failure(kind, 503, "records accepted but not yet committed (database slow or away); they may "
                                   "still be stored: a retry can store them twice", RETRY_AFTER_SECONDS)
    return _answer(kind, rejected, f"{rejected} empty log records (no body, attributes or severity) left out")


def _records(kind: str, body: bytes, peer: str | None, key_name: str, limit: int) -> tuple[list[RawRecord], int]:
    """The records of a request body (one per log record, as ECS JSON) and how many log
    records were rejected. OtlpError for a body that is not a logs request. CPU-bound: in a thread."""
    documents, rejected = decode(kind, body)
    now = time.time()
    meta: dict[str, Any] = {"api_key": key_name}
    records: list[RawRecord] = []
    for document in documents:
        data = orjson.dumps(document)
        if len(data) <= limit:
            records.append(RawRecord(data, now, SOURCE, SHIPPER_DOCUMENT, peer, meta))
        else:  # not JSON once cut: stored as text, unparsed
            records.append(RawRecord(data[:limit], now, SOURCE, None, peer, {**meta, "truncated": True}))
    return records, rejected
