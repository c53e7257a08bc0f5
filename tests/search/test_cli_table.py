"""`guetteur search --format table`: the last column shows the message, else the line itself."""

from __future__ import annotations

from guetteur.cli.commands_search import _cell


def test_message_column_falls_back_to_the_original_line() -> None:
    web = {"event": {"original": "192.0.2.1 - - [05/Dec/2026:15:38:10 +0000] \"GET / HTTP/1.1\" 404 12"}}
    assert _cell(web, "message", 60).startswith("192.0.2.1 - -")
    ssh = {"message": "Failed password for root", "event": {"original": "<38>... sshd[1]: Failed password"}}
    assert _cell(ssh, "message", 60) == "Failed password for root"
    assert _cell(web, "message", 10) == "192.0.2.1…"  # cut to the column width
