"""`/es`: the official Python Elasticsearch client (`helpers.bulk`, `streaming_bulk`) against a
running Guetteur, the credentials shippers send, the set-up calls of Filebeat, and bad bulk
bodies. Each test counts what was sent and what is stored."""

from __future__ import annotations

import asyncio
import base64
import gzip
from typing import Any

import httpx
import orjson
from elasticsearch import Elasticsearch, helpers
from tests.api.stored_events import stored

FILEBEAT_LINE = "Apr  6 16:21:41 web1 sshd[{n}]: Failed password for root from 203.0.113.{m} port 2222 ssh2"


def client(running: Any, **auth: Any) -> Elasticsearch:
    return Elasticsearch(f"{running.info['api']}/es", request_timeout=60, max_retries=0, **auth)


def filebeat_document(n: int) -> dict[str, Any]:
    return {"@timestamp": "2026-04-06T16:21:45.000Z", "message": FILEBEAT_LINE.format(n=n, m=n % 200),
            "input": {"type": "filestream"}, "log": {"file": {"path": "/var/log/auth.log"}, "offset": n * 90},
            "host": {"name": "web1"}, "agent": {"type": "filebeat", "version": "9.1.0"},
            "ecs": {"version": "8.0.0"}}


async def test_python_client_helpers_bulk_stores_every_document_once_parsed(make_running: Any) -> None:
    """`helpers.bulk` of 3,000 Filebeat-shaped documents: every one stored once, the raw line
    parsed (sshd failure -> `user.name`, `source.ip`), the shipper's metadata kept."""
    async with make_running() as running:
        es = client(running, api_key=running.ingest_key)
        info = await asyncio.to_thread(es.info)
        assert info["version"]["number"].startswith("9.")
        actions = [{"_index": "filebeat-9.1.0", "_op_type": "create", "_source": filebeat_document(n)}
                   for n in range(3000)]
        ok, errors = await asyncio.to_thread(helpers.bulk, es, actions, chunk_size=500)
        assert (ok, errors) == (3000, [])
        rows = stored(running.owner_dsn)
        assert len(rows) == 3000
        assert len({row["event"]["original"] for row in rows}) == 3000
        first = next(row for row in rows if row["event"]["original"] == FILEBEAT_LINE.format(n=7, m=7))
        assert first["user"]["name"] == "root"
        assert first["source"]["ip"] == "203.0.113.7"
        assert first["event"]["dataset"] == "linux_auth" and first["event"]["outcome"] == "failure"
        assert first["log"]["file"]["path"] == "/var/log/auth.log"
        assert first["agent"]["type"] == "filebeat"
        assert first["input"]["type"] == "es_bulk"


async def test_python_client_streaming_bulk_per_item_results(make_running: Any) -> None:
    """`streaming_bulk` yields one result per action, in order, ECS documents kept as sent,
    `data_stream.dataset` and the index name becoming `event.dataset`."""
    async with make_running() as running:
        es = client(running, basic_auth=("anyone", running.ingest_key))
        ecs_doc = {"@timestamp": "2026-04-06T16:21:41Z", "event": {"action": "ssh_login", "outcome": "success"},
                   "user": {"name": "alice"}, "data_stream": {"dataset": "myapp.audit", "type": "logs"}}
        actions = [{"_index": "logs-myapp.audit-default", "_source": ecs_doc} for _ in range(50)]
        actions += [{"_index": "logs-nginx.access-default", "_source": {"@timestamp": "2026-04-06T16:21:41Z",
                                                                          "event": {"action": "x"}}}]

        def run() -> list[tuple[bool, dict[str, Any]]]:
            return list(helpers.streaming_bulk(es, actions, chunk_size=20))

        results = await asyncio.to_thread(run)
        assert len(results) == 51 and all(ok for ok, _ in results)
        assert all(item["index"]["status"] == 201 for _, item in results)
        rows = stored(running.owner_dsn)
        assert sum(1 for row in rows if row["event"]["dataset"] == "myapp.audit") == 50
        assert sum(1 for row in rows if row["event"]["dataset"] == "nginx.access") == 1
        alice = next(row for row in rows if row.get("user", {}).get("name") == "alice")
        assert alice["event"]["action"] == "ssh_login" and alice["@timestamp"] == "2026-04-06T16:21:41.000Z"


async def test_credentials_of_every_scheme_and_refusals(make_running: Any) -> None:
    """ApiKey (as is and base64 `id:key`), Basic (password = key), Bearer: accepted; no
    credential 401, a read key 403, an unknown key 401; every answer says it is Elasticsearch."""
    async with make_running() as running:
        http: httpx.AsyncClient = running.http
        key = running.ingest_key
        encoded = base64.b64encode(f"some-id:{key}".encode()).decode()
        basic = base64.b64encode(f"filebeat:{key}".encode()).decode()
        for header, path in ((f"ApiKey {key}", "/es/"), (f"ApiKey {encoded}", "/es"), (f"Basic {basic}", "/es/"),
                             (f"Bearer {key}", "/es")):
            response = await http.get(path, headers={"Authorization": header})
            assert response.status_code == 200, (header, response.text)
            assert response.headers["x-elastic-product"] == "Elasticsearch"
            assert response.json()["tagline"] == "You Know, for Search"
        assert (await http.get("/es/")).status_code == 401
        assert (await http.get("/es/", headers={"Authorization": "ApiKey gt_nope"})).status_code == 401
        refused = await http.get("/es/", headers={"Authorization": f"ApiKey {running.read_key}"})
        assert refused.status_code == 403
        assert (await http.head("/es/", headers={"Authorization": f"ApiKey {key}"})).status_code == 200


async def test_filebeat_start_up_calls_are_answered(make_running: Any) -> None:
    """The calls a default Filebeat makes before its first bulk: each answered with success."""
    async with make_running() as running:
        headers = {"Authorization": f"ApiKey {running.ingest_key}"}
        http: httpx.AsyncClient = running.http
        license_ = (await http.get("/es/_license", params={"human": "false"}, headers=headers)).json()
        assert license_["license"]["status"] == "active"
        assert (await http.get("/es/_xpack", headers=headers)).json()["features"]["ilm"]["available"]
        for method, path in (("GET", "/es/_index_template/filebeat-9.1.0"), ("HEAD", "/es/_index_template/fb"),
                             ("PUT", "/es/_index_template/filebeat-9.1.0"), ("GET", "/es/_ilm/policy/filebeat"),
                             ("PUT", "/es/_ilm/policy/filebeat"), ("GET", "/es/_nodes/ingest"),
                             ("GET", "/es/_ingest/pipeline/filebeat-9.1.0-system-auth-pipeline"),
                             ("PUT", "/es/_ingest/pipeline/filebeat-9.1.0-system-auth-pipeline"),
                             ("GET", "/es/_security/_authenticate"), ("GET", "/es/_data_stream/filebeat-9.1.0")):
            response = await http.request(method, path, headers=headers, json={})
            assert response.status_code == 200, (method, path, response.text)
            assert response.headers["x-elastic-product"] == "Elasticsearch"
        template = (await http.get("/es/_index_template/filebeat-9.1.0", headers=headers)).json()
        assert template["index_templates"][0]["name"] == "filebeat-9.1.0"


def _bulk_body(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


async def test_malformed_bulk_lines_fail_their_items_only(make_running: Any) -> None:
    """Malformed documents and actions, update/delete, a last action without a document: one
    error item each, in order; the good items around them are stored. A body that is not
    JSON by its content type gets 406, as from Elasticsearch."""
    async with make_running() as running:
        good = orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "message": "good line", "event": {"kind": "x"}})
        body = _bulk_body(
            b'{"index": {"_index": "a"}}', good,
            b'{"index": {"_index": "a"}}', b'{"message": "cut',                 # malformed document
            b'not an action', b'{"message": "its document"}',                   # malformed action + its document
            b'{"create": {}}', good,
            b'{"delete": {"_index": "a", "_id": "1"}}',                          # delete: refused
            b'{"update": {"_id": "1"}}', b'{"doc": {"a": 1}}',                   # update: refused
            b'{"index": {}}', b'[1, 2]',                                         # not an object
            b'{"index": {}}', good,
            b'{"index": {}}')                                                    # no document
        response = await running.http.post("/es/_bulk", content=body, headers={
            "Authorization": f"ApiKey {running.ingest_key}", "Content-Type": "application/x-ndjson"})
        assert response.status_code == 200
        answer = response.json()
        statuses = [next(iter(item.values()))["status"] for item in answer["items"]]
        assert statuses == [201, 400, 400, 201, 400, 400, 400, 201, 400]
        assert answer["errors"] is True
        assert next(iter(answer["items"][1].values()))["error"]["type"] == "document_parsing_exception"
        assert len(stored(running.owner_dsn)) == 3
        for kind in ("text/plain", "application/x-www-form-urlencoded", "application/x-protobuf"):
            response = await running.http.post("/es/_bulk", content=body, headers={
                "Authorization": f"ApiKey {running.ingest_key}", "Content-Type": kind})
            assert response.status_code == 406, kind
            assert response.json()["error"]["type"] == "media_type_header_exception"
        assert len(stored(running.owner_dsn)) == 3


async def test_gzip_bulk_and_gzip_bomb(make_running: Any) -> None:
    """A gzip body (Filebeat compresses by default) is read; a gzip bomb gets 413 as soon as its
    decompressed size passes api.max_body_bytes, nothing stored; a truncated stream gets 400."""
    async with make_running() as running:
        headers = {"Authorization": f"ApiKey {running.ingest_key}", "Content-Type": "application/x-ndjson",
                   "Content-Encoding": "gzip"}
        lines = [b'{"create": {"_index": "logs-app-default"}}',
                 orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "message": "zipped", "event": {"kind": "x"}})]
        body = gzip.compress(_bulk_body(*lines * 100))
        response = await running.http.post("/es/_bulk", content=body, headers=headers)
        assert response.status_code == 200 and not response.json()["errors"]
        assert len(stored(running.owner_dsn)) == 100
        bomb = gzip.compress(b"\n" * (running.settings.api.max_body_bytes + 1024 * 1024), compresslevel=9)
        assert len(bomb) < 200_000
        response = await running.http.post("/es/_bulk", content=bomb, headers=headers)
        assert response.status_code == 413
        response = await running.http.post("/es/_bulk", content=body[: len(body) // 2], headers=headers)
        assert response.status_code == 400
        assert len(stored(running.owner_dsn)) == 100


async def test_hundred_thousand_actions_past_the_queue_get_429_items(make_running: Any) -> None:
    """100,000 actions in one body against a 20,000-record queue: the first 20,000 are stored,
    the rest answered 429 one by one (the shipper retries those only), the server stays up."""
    async with make_running(queue_size=20_000) as running:
        action = b'{"create": {"_index": "logs-flood-default"}}'
        body = b"".join(action + b"\n" + orjson.dumps({"message": f"flood {n}"}) + b"\n" for n in range(100_000))
        response = await running.http.post("/es/_bulk", content=body, headers={
            "Authorization": f"ApiKey {running.ingest_key}", "Content-Type": "application/x-ndjson"}, timeout=120)
        assert response.status_code == 200
        items = response.json()["items"]
        statuses = [item["create"]["status"] for item in items]
        assert len(statuses) == 100_000
        assert statuses.count(201) == 20_000 and statuses.count(429) == 80_000
        assert statuses[:20_000] == [201] * 20_000  # in order: the accepted ones first
        assert items[-1]["create"]["error"]["type"] == "es_rejected_execution_exception"
        assert len(stored(running.owner_dsn)) == 20_000
        assert (await running.http.get("/api/v1/health")).status_code == 200
