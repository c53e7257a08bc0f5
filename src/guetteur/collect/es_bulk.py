"""The Elasticsearch `_bulk` format: NDJSON action/source pairs in, per-item results out.

A bulk body is a sequence of action lines (`{"index": {"_index": "x", "_id": "1"}}`,
`create`, `update`, `delete`), each but `delete` followed by its document. Elasticsearch
answers `{"took", "errors", "items": [...]}` with one result per action, in order, each under
its action's name with its own `status`; shippers retry the items answered 429 and drop
those answered another 4xx. Here `index` and `create` store their document; `update` and
`delete` are refused per item (the event store is append-only). A malformed line fails its
item only, so the good items of the same request are stored: an action line that is not an
action takes the next line along as its document unless that line is itself an action.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson

STORED_ACTIONS = ("index", "create")
ACTIONS = frozenset({"index", "create", "update", "delete"})
CREATED = 201


@dataclass(slots=True)
class BulkItem:
    """One action of a bulk body: its document to store (`status` 201) or why it fails."""

    action: str
    index: str | None
    doc_id: str
    document: bytes | None = None
    status: int = CREATED
    error_type: str = ""
    reason: str = ""
    truncated: bool = False

    def fail(self, status: int, error_type: str, reason: str) -> None:
        self.document = None
        self.status = status
        self.error_type = error_type
        self.reason = reason

    def result(self, seq_no: int) -> dict[str, Any]:
        """This item in Elasticsearch's response format."""
        body: dict[str, Any] = {"_index": self.index or "", "_id": self.doc_id, "status": self.status}
        if self.status == CREATED:
            body.update({"_version": 1, "result": "created", "_seq_no": seq_no, "_primary_term": 1,
                         "_shards": {"total": 1, "successful": 1, "failed": 0}})
        else:
            body["error"] = {"type": self.error_type, "reason": self.reason}
        return {self.action: body}


def _action(line: bytes) -> tuple[str, dict[str, Any]] | None:
    """(action name, its metadata) when `line` is an action line, else None."""
    if not line.lstrip().startswith(b"{"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        return None
    name, meta = next(iter(value.items()))
    if name not in ACTIONS or not isinstance(meta, dict):
        return None
    return name, meta


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def split_bulk(lines: list[bytes], default_index: str | None, max_record_bytes: int) -> list[BulkItem]:
    """The items of a bulk body's non-empty lines, in order. CPU-bound: call it in a thread.

    A document longer than `max_record_bytes` (the line was cut on arrival) is kept cut and
    flagged `truncated`: it is stored as text, unparsed, like any record that long.
    """
    items: list[BulkItem] = []
    position = 0
    count = len(lines)
    while position < count:
        line = lines[position]
        position += 1
        found = _action(line)
        if found is None:
            item = BulkItem("index", default_index, secrets.token_urlsafe(15))
            item.fail(400, "x_content_parse_exception",
                      f"line {position}: expected an action (index, create, update or delete), got "
                      f"{line[:80]!r}")
            if position < count and _action(lines[position]) is None:
                position += 1  # its document, most likely
            items.append(item)
            continue
        name, meta = found
        index = _text(meta.get("_index")) or default_index
        item = BulkItem(name, index, _text(meta.get("_id")) or secrets.token_urlsafe(15))
        items.append(item)
        if name == "delete":
            item.fail(400, "illegal_argument_exception", "delete is not supported: the event store is append-only")
            continue
        if position >= count:
            item.fail(400, "action_request_validation_exception", f"line {position}: the action has no document")
            continue
        document = lines[position]
        position += 1
        if name == "update":
            item.fail(400, "illegal_argument_exception", "update is not supported: the event store is append-only")
            continue
        if len(document) > max_record_bytes:
            item.document = document[:max_record_bytes]
            item.truncated = True
            continue
        try:
            value = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            item.fail(400, "document_parsing_exception", f"line {position}: malformed document: {exc}")
            continue
        if not isinstance(value, dict):
            item.fail(400, "document_parsing_exception", f"line {position}: a document is a JSON object")
            continue
        item.document = document
    return items


def bulk_response(items: list[BulkItem], took_ms: int) -> bytes:
    """The `_bulk` response body for `items` (`errors` is true when any item failed)."""
    results = [item.result(seq) for seq, item in enumerate(items)]
    return orjson.dumps({"took": took_ms, "errors": any(item.status != CREATED for item in items),
                         "items": results})
