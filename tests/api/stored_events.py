"""What a running Guetteur stored, read straight from its database (tests' helper)."""

from __future__ import annotations

from typing import Any

import psycopg


def stored(dsn: str) -> list[dict[str, Any]]:
    """Every stored event, `event.original` (kept in its own column) put back."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT doc, original FROM events").fetchall()
    for doc, original in rows:
        doc.setdefault("event", {})["original"] = original
    return [doc for doc, _ in rows]
