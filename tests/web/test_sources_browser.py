"""The Sources page in a real browser (issue 13): an admin picks a sender, creates a fresh ingest
key, and the page confirms by itself, without a reload, once that sender's first events are
stored. The demo feeds syslog and HTTP all along, so the sender here is OpenTelemetry, which
nothing else uses: the confirmation can only come from the request this test sends."""

from __future__ import annotations

import re
import time

import httpx
import orjson

from .console_browser import Console
from .console_server import ConsoleServer


def _otlp_json(lines: list[str]) -> bytes:
    now = str(time.time_ns())
    return orjson.dumps({"resourceLogs": [{
        "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": "new-server"}}]},
        "scopeLogs": [{"scope": {"name": "test"}, "logRecords": [
            {"observedTimeUnixNano": now, "body": {"stringValue": line}} for line in lines]}]}]})


def test_first_events_of_a_new_sender_are_confirmed_live(server: ConsoleServer, admin: Console) -> None:
    admin.goto("/sources")
    admin.page.get_by_role("tab", name="OpenTelemetry").click()
    waiting = admin.page.get_by_test_id("first-events")
    waiting.get_by_text("otlp").wait_for()
    assert admin.page.get_by_test_id("first-events-arrived").count() == 0
    admin.page.get_by_test_id("new-ingest-key").click()
    admin.page.get_by_test_id("key-ready").wait_for()
    config = admin.page.get_by_test_id("config-otel").inner_text()
    key = re.search(r"gt_[A-Za-z0-9_\-]+", config)
    assert key is not None, config  # the fresh key is in the configuration shown
    lines = ["Dec  5 10:00:00 new-server sshd[42]: Accepted publickey for deploy from 198.51.100.7 port 50000 ssh2",
             "Dec  5 10:00:01 new-server sshd[42]: pam_unix(sshd:session): session opened for user deploy"]
    answer = httpx.post(f"{server.base_url}/v1/logs", content=_otlp_json(lines), timeout=60,
                        headers={"Authorization": f"Bearer {key.group()}", "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text  # 200 once committed (acknowledged means stored)
    arrived = admin.page.get_by_test_id("first-events-arrived")
    arrived.wait_for()  # the counters are polled: no reload
    assert re.search(r"\b2\b", arrived.inner_text()), arrived.inner_text()
    admin.shot("09c-sources-first-events")
    arrived.get_by_role("link").click()
    admin.page.wait_for_url(re.compile("/explorer"))
    assert admin.page.get_by_test_id("kql").input_value() == 'input.type:"otlp"'
    admin.page.get_by_test_id("results").get_by_text("new-server").first.wait_for()
