"""Windows events as Winlogbeat / Elastic Agent JSON: `{"winlog": {...}, "@timestamp": ...}`.

Winlogbeat already splits the record into `winlog.*` but leaves the ECS mapping to
Elasticsearch's ingest pipeline; this module plays that pipeline's part. Values under
`winlog.event_data` keep their names; non-string values (older Winlogbeat versions
emit numbers) become the text Windows wrote.
"""

from __future__ import annotations

from typing import Any

from guetteur.model import Event, RawRecord
from guetteur.parse.base import Parser
from guetteur.parse.windows_ecs import WinSystem, build, to_text, windows_time

_SYSTEM_KEYS = frozenset((
    "event_id", "provider_name", "provider_guid", "channel", "computer_name", "record_id", "event_data",
    "user_data", "keywords", "level", "opcode", "task", "process", "activity_id", "version", "user",
))


def parse_winlogbeat(obj: dict[str, Any], text: str, record: RawRecord) -> Event | None:
    winlog = obj.get("winlog")
    if not isinstance(winlog, dict) or winlog.get("event_id") is None:
        return None
    sys: WinSystem = {"event_id": to_text(winlog.get("event_id"))}
    for key, field in (("provider_name", "provider"), ("provider_guid", "provider_guid"), ("channel", "channel"),
                       ("computer_name", "computer"), ("record_id", "record_id"), ("activity_id", "activity_id"),
                       ("opcode", "opcode"), ("task", "task")):
        value = winlog.get(key)
        if value is not None:
            sys[field] = to_text(value)  # type: ignore[literal-required]
    level = winlog.get("level")
    if level is None and isinstance(obj.get("log"), dict):
        level = obj["log"].get("level")
    if level is not None:
        sys["level"] = to_text(level)
    keywords = winlog.get("keywords")
    if isinstance(keywords, list):
        sys["keywords"] = [to_text(k) for k in keywords]
    if isinstance(winlog.get("version"), int):
        sys["version"] = winlog["version"]
    process = winlog.get("process")
    if isinstance(process, dict):
        if isinstance(process.get("pid"), int):
            sys["pid"] = process["pid"]
        thread = process.get("thread")
        if isinstance(thread, dict) and isinstance(thread.get("id"), int):
            sys["tid"] = thread["id"]
    user = winlog.get("user")
    if isinstance(user, dict) and user.get("identifier"):
        sys["user_sid"] = to_text(user["identifier"])
    when = winlog.get("time_created") or obj.get("@timestamp")
    if isinstance(when, str) and (stamp := windows_time(when)) is not None:
        sys["time"] = stamp
    data = winlog.get("event_data")
    event_data = {k: to_text(v) for k, v in data.items()} if isinstance(data, dict) else {}
    user_data = winlog.get("user_data") if isinstance(winlog.get("user_data"), dict) else None
    message = obj.get("message") if isinstance(obj.get("message"), str) else None
    event = build(sys, event_data, user_data, message)
    if sys.get("keywords") == [] or "keywords" not in sys:
        # Winlogbeat's own outcome when keywords were not shipped
        outcome = (obj.get("event") or {}).get("outcome") if isinstance(obj.get("event"), dict) else None
        if outcome in ("success", "failure", "unknown"):
            event["event"].setdefault("outcome", outcome)
            event["winlog"].setdefault("outcome", outcome)
    for key, value in winlog.items():  # keep what Winlogbeat adds (time_created, api, ...)
        if key not in _SYSTEM_KEYS:
            event["winlog"].setdefault(key, value)
    for key in ("agent", "labels", "tags"):
        if key in obj:
            event[key] = obj[key]
    return event


def _sniff(obj: dict[str, Any]) -> bool:
    winlog = obj.get("winlog")
    return isinstance(winlog, dict) and "event_id" in winlog


PARSERS = [Parser("winlogbeat", "windows", "json", parse_winlogbeat, sniff=_sniff, priority=20)]
