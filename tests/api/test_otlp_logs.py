"""`POST /v1/logs`: the OpenTelemetry SDK's OTLP/HTTP log exporter against a running Guetteur,
hand-made OTLP JSON (partial success), and bad bodies (truncated protobuf, wrong content
type, gzip bomb). Each test counts what was sent and what is stored."""

from __future__ import annotations

import asyncio
import gzip
import logging
from typing import Any

import httpx
import orjson
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from tests.api.stored_events import stored

SENT = 600


def _export_with_sdk(endpoint: str, key: str) -> None:
    """What an application instrumented with OpenTelemetry does: Python logging through the
    SDK's handler, batched, gzip-compressed protobuf over HTTP."""
    exporter = OTLPLogExporter(endpoint=endpoint, headers={"Authorization": f"Bearer {key}"},
                               compression=Compression.Gzip, timeout=60)
    provider = LoggerProvider(resource=Resource.create({"service.name": "medical-api", "host.name": "app-01",
                                                        "deployment.environment": "prod"}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, max_export_batch_size=128))
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger = logging.getLogger("medical.audit")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        for n in range(SENT):
            logger.warning("ALERTE SOC: user %d accessed patient %d", n, n + 1, extra={"enduser.id": str(n)})
        assert provider.force_flush(60_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()


async def test_sdk_exporter_records_are_stored_as_ecs(make_running: Any) -> None:
    """600 records from the SDK exporter (gzip protobuf): 600 stored, mapped to ECS."""
    async with make_running() as running:
        await asyncio.to_thread(_export_with_sdk, f"{running.info['api']}/v1/logs", running.ingest_key)
        rows = stored(running.owner_dsn)
        assert len(rows) == SENT
        assert len({row["message"] for row in rows}) == SENT
        row = next(r for r in rows if r["message"] == "ALERTE SOC: user 42 accessed patient 43")
        assert row["service"]["name"] == "medical-api" and row["service"]["environment"] == "prod"
        assert row["host"]["name"] == "app-01"
        assert row["log"]["level"] == "warning" and row["event"]["severity"] == 4
        assert row["log"]["logger"] == "medical.audit"
        assert row["user"]["id"] == "42"
        assert row["event"]["dataset"] == "generic.otel"
        assert row["input"]["type"] == "otlp"


def _json_request(records: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"scope": {"name": "shop.web"}, "logRecords": records}]}]})


async def test_json_request_partial_success_and_raw_bodies_parsed(make_running: Any) -> None:
    """OTLP JSON: hex trace ids, an empty record rejected in `partialSuccess`, a body-only record
    (the Collector's filelog receiver) parsed by our parsers."""
    async with make_running() as running:
        records = [
            {"timeUnixNano": "1775492501000000000", "severityNumber": 17, "body": {"stringValue": "payment failed"},
             "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
             "attributes": [{"key": "exception.type", "value": {"stringValue": "ValueError"}},
                            {"key": "http.route", "value": {"stringValue": "/pay"}},
                            {"key": "retries", "value": {"intValue": "3"}}]},
            {"observedTimeUnixNano": "1775492501000000000",
             "body": {"stringValue": "Apr  6 16:21:41 web1 sshd[9]: Failed password for root from 203.0.113.9 "
                                     "port 2222 ssh2"}},
            {},
        ]
        response = await running.http.post("/v1/logs", content=_json_request(records), headers={
            "Authorization": f"Bearer {running.ingest_key}", "Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        assert response.json() == {"partialSuccess": {"rejectedLogRecords": "1", "errorMessage": response.json()[
            "partialSuccess"]["errorMessage"]}}
        rows = stored(running.owner_dsn)
        assert len(rows) == 2
        payment = next(r for r in rows if r["message"] == "payment failed")
        assert payment["trace"]["id"] == "5b8efff798038103d269b633813fc60c"
        assert payment["span"]["id"] == "eee19b7ec3c1b174"
        assert payment["error"]["type"] == "ValueError" and payment["log"]["level"] == "error"
        assert payment["http"]["route"] == "/pay"  # an ECS field set: kept there
        assert payment["labels"] == {"retries": "3"}
        assert payment["@timestamp"] == "2026-04-06T16:21:41.000Z"
        sshd = next(r for r in rows if r["event"]["dataset"] == "linux_auth")
        assert sshd["user"]["name"] == "root" and sshd["source"]["ip"] == "203.0.113.9"
        assert sshd["service"]["name"] == "shop"


async def test_protobuf_answer_and_bad_bodies(make_running: Any) -> None:
    """A protobuf request gets an `ExportLogsServiceResponse`; a truncated protobuf 400 with a
    `google.rpc.Status`, a wrong content type 415, a gzip bomb 413, no key 401: nothing stored."""
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        auth = {"Authorization": f"Bearer {running.ingest_key}"}
        request = ExportLogsServiceRequest()
        record = request.resource_logs.add().scope_logs.add().log_records.add()
        record.body.string_value = "hello " * 50
        record.severity_text = "INFO"
        body = request.SerializeToString()
        response = await http.post("/v1/logs", content=body,
                                   headers={**auth, "Content-Type": "application/x-protobuf"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-protobuf"
        answer = ExportLogsServiceResponse()
        answer.ParseFromString(response.content)
        assert answer.partial_success.rejected_log_records == 0
        assert len(stored(running.owner_dsn)) == 1

        response = await http.post("/v1/logs", content=body[:-20],
                                   headers={**auth, "Content-Type": "application/x-protobuf"})
        assert response.status_code == 400
        status = Status()
        status.ParseFromString(response.content)
        assert "protobuf" in status.message
        for content, kind in ((b"{not json", "application/json"), (b'{"resourceLogs": 5}', "application/json"),
                              (body, "text/plain"), (body, "")):
            response = await http.post("/v1/logs", content=content, headers={**auth, "Content-Type": kind})
            assert response.status_code in (400, 415), (content[:20], kind, response.status_code)
        assert (await http.post("/v1/logs", content=body, headers={"Content-Type": "text/plain"})).status_code in (
            401, 415)
        bomb = gzip.compress(b"\0" * (running.settings.api.max_body_bytes + 1024 * 1024), compresslevel=9)
        response = await http.post("/v1/logs", content=bomb, headers={
            **auth, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        assert response.status_code == 413
        response = await http.post("/v1/logs", content=body, headers={"Content-Type": "application/x-protobuf"})
        assert response.status_code == 401
        assert len(stored(running.owner_dsn)) == 1
