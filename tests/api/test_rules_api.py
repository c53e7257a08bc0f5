"""Rule management over HTTP (`/api/v1/detection/rules/...`) against a running Guetteur:
validation with positions, hostile texts and ids, saving into the local rules folder
(atomically, audited), overriding a built-in rule, turning rules off in the running pipeline,
the bounded replay, import and proposals."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from tests.api.conftest import send_tcp
from tests.api.people import add_user, bearer

from guetteur.config import DetectSettings

BUILTIN_ID = "fd8d192d-c5ca-4883-a59e-b8a406082f40"  # "SSH Failed Authentication Attempt", rules/linux/
RULE_A = "7d2e0c11-5a3b-4c6d-8e9f-00000000000a"
RULE_B = "7d2e0c11-5a3b-4c6d-8e9f-00000000000b"


def rule_text(rule_id: str, title: str, level: str = "medium", extra: str = "") -> str:
    return f"""\
title: {title}
id: {rule_id}
status: test
level: {level}
tags: [attack.credential-access, attack.t1110]
logsource: {{product: linux, service: auth}}
detection:
  selection:
    event.outcome: failure
    event.action: ssh_login{extra}
  condition: selection
"""


def failures(count: int, first_port: int = 4000) -> bytes:
    now = datetime.now(UTC)
    stamp = f"{now:%b} {now.day:>2} {now:%H:%M:%S}"
    return "".join(f"<38>{stamp} web-01 sshd[9]: Failed password for root from 198.51.100.7 port "
                   f"{first_port + n} ssh2\n" for n in range(count)).encode()


async def people(running: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Authorization headers of an admin (with TOTP), an analyst and a viewer."""
    http = running.http
    admin = await bearer(http, add_user(running.owner_dsn, "root-admin", "admin", totp=True))
    analyst = await bearer(http, add_user(running.owner_dsn, "ana", "analyst"))
    viewer = await bearer(http, add_user(running.owner_dsn, "vic", "viewer"))
    return admin, analyst, viewer


def hits(owner_dsn: str) -> list[tuple[str, str, list[str]]]:
    with psycopg.connect(owner_dsn) as conn:
        rows = conn.execute("SELECT rule_id, rule_title, event_ids FROM hits ORDER BY id").fetchall()
    return [(str(r[0]), str(r[1]), list(r[2])) for r in rows]


def audit_actions(owner_dsn: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(owner_dsn) as conn:
        rows = conn.execute("SELECT actor, action, target FROM audit_log ORDER BY seq").fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


async def test_validate_gives_each_error_its_line_and_refuses_hostile_texts(make_running: Any) -> None:
    """A bad modifier, an unknown level, a condition naming no selection and a YAML syntax error
    each come back as a 200 with the line they are about; aliases (a YAML bomb), deep nesting,
    NUL and oversized texts are refused without a server error; a good rule is valid."""
    async with make_running(detect=DetectSettings(reload_interval=0.5)) as running:
        _admin, analyst, viewer = await people(running)

        async def validate(text: str) -> dict[str, Any]:
            response = await running.http.post("/api/v1/detection/rules/validate", json={"yaml": text},
                                               headers=analyst)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        good = await validate(rule_text(RULE_A, "Good"))
        assert good["valid"] and good["errors"] == [] and good["rule_ids"] == [RULE_A] and good["main_id"] == RULE_A

        modifier = await validate(rule_text(RULE_A, "Bad", extra="\n    user.name|sideways: root"))
        assert not modifier["valid"]
        assert [(e["line"], "sideways" in e["message"]) for e in modifier["errors"]] == [(11, True)]

        level = await validate(rule_text(RULE_A, "Bad", level="apocalyptic"))
        assert [(e["line"], e["column"]) for e in level["errors"]] == [(4, 8)]

        condition = await validate(rule_text(RULE_A, "Bad").replace("condition: selection",
                                                                    "condition: selection and nothing"))
        assert [e["line"] for e in condition["errors"]] == [11] and "nothing" in condition["errors"][0]["message"]

        syntax = await validate("title: x\nlogsource: [unclosed\ndetection: {}\n")
        assert not syntax["valid"] and syntax["errors"][0]["line"] == 3

        bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8))
        refused = await validate(bomb)
        assert not refused["valid"] and "aliases" in refused["errors"][0]["message"]
        assert refused["errors"][0]["line"] == 2

        deep = await validate("a: " + "[" * 5000 + "]" * 5000 + "\n")
        assert not deep["valid"]
        nul = await validate(rule_text(RULE_A, "Nul\x00"))
        assert not nul["valid"]
        correlation = await validate("title: c\nid: 7d2e0c11-5a3b-4c6d-8e9f-0000000000cc\ncorrelation:\n"
                                     "  type: event_count\n  rules: [no_such_rule]\n  group-by: [source.ip]\n"
                                     "  timespan: 2m\n  condition: {gte: 3}\n")
        assert not correlation["valid"] and correlation["errors"][0]["line"] == 5
        on_builtin = await validate(f"title: c\nid: 7d2e0c11-5a3b-4c6d-8e9f-0000000000cc\ncorrelation:\n"
                                    f"  type: event_count\n  rules: [{BUILTIN_ID}]\n  group-by: [source.ip]\n"
                                    f"  timespan: 2m\n  condition: {{gte: 3}}\n")
        assert on_builtin["valid"], on_builtin

        url = "/api/v1/detection/rules/validate"
        too_long = await running.http.post(url, json={"yaml": "#" * 300_000}, headers=analyst)
        assert too_long.status_code == 422
        huge = await running.http.post(url, content=b'{"yaml": "' + b"#" * 17_000_000 + b'"}',
                                       headers={**analyst, "Content-Type": "application/json"})
        assert huge.status_code == 413
        not_utf8 = await running.http.post(url, content=b'{"yaml": "\xff\xfe title"}',
                                           headers={**analyst, "Content-Type": "application/json"})
        assert 400 <= not_utf8.status_code < 500
        assert (await running.http.post(url, json={"yaml": "title: x"}, headers=viewer)).status_code == 403


async def test_save_override_delete_and_audit(make_running: Any) -> None:
    """A new rule is written into data_dir/rules/local/<id>.yml and read back with its origin;
    creating it twice is a 409; editing a built-in rule saves an override copy that replaces it
    by id, and deleting the copy brings the pack's rule back; traversal ids are 404; every
    write is in the audit trail; analysts may not write."""
    async with make_running(detect=DetectSettings(reload_interval=0.5)) as running:
        admin, analyst, _viewer = await people(running)
        http = running.http
        text = rule_text(RULE_A, "Local rule A")
        assert (await http.post("/api/v1/detection/rules", json={"yaml": text}, headers=analyst)).status_code == 403
        created = await http.post("/api/v1/detection/rules", json={"yaml": text}, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["rule_id"] == RULE_A and created.json()["overrides"] == []
        local = running.settings.data_dir / "rules" / "local"
        assert (local / f"{RULE_A}.yml").read_text() == text
        assert [p.name for p in local.iterdir()] == [f"{RULE_A}.yml"]  # no temporary file left
        again = await http.post("/api/v1/detection/rules", json={"yaml": text}, headers=admin)
        assert again.status_code == 409

        detail = (await http.get(f"/api/v1/detection/rules/{RULE_A}", headers=analyst)).json()
        assert (detail["title"], detail["origin"], detail["file_id"], detail["yaml"]) == (
            "Local rule A", "local", RULE_A, text)
        assert detail["techniques"] == ["T1110"] and detail["enabled"] and detail["hits_24h"] == 0

        builtin = (await http.get(f"/api/v1/detection/rules/{BUILTIN_ID}", headers=analyst)).json()
        assert builtin["origin"] == "builtin" and builtin["file"] == "linux/credential_access_ssh_brute_force.yml"
        edited = builtin["yaml"].replace("title: SSH Failed Authentication Attempt", "title: SSH failure (ours)", 1)
        saved = await http.put(f"/api/v1/detection/rules/{BUILTIN_ID}", json={"yaml": edited}, headers=admin)
        assert saved.status_code == 200, saved.text
        assert BUILTIN_ID in saved.json()["overrides"]
        override = (await http.get(f"/api/v1/detection/rules/{BUILTIN_ID}", headers=analyst)).json()
        assert (override["title"], override["origin"]) == ("SSH failure (ours)", "local")
        assert override["replaces"] == "linux/credential_access_ssh_brute_force.yml"
        # another local file may not define the same id
        clash = rule_text(RULE_B, "B") + "---\n" + rule_text(RULE_A, "A again")
        conflict = await http.post("/api/v1/detection/rules", json={"yaml": clash}, headers=admin)
        assert conflict.status_code == 409

        assert (await http.delete(f"/api/v1/detection/rules/{BUILTIN_ID}", headers=admin)).status_code == 204
        back = (await http.get(f"/api/v1/detection/rules/{BUILTIN_ID}", headers=analyst)).json()
        assert (back["title"], back["origin"]) == ("SSH Failed Authentication Attempt", "builtin")
        assert (await http.delete(f"/api/v1/detection/rules/{BUILTIN_ID}", headers=admin)).status_code == 409

        for hostile in ("..%2F..%2Fetc%2Fpasswd", "..", "a%00b", "x" * 200):
            assert (await http.get(f"/api/v1/detection/rules/{hostile}", headers=analyst)).status_code == 404
            assert (await http.put(f"/api/v1/detection/rules/{hostile}", json={"yaml": text},
                                   headers=admin)).status_code == 404
        wrong_id = await http.put(f"/api/v1/detection/rules/{RULE_A}", json={"yaml": rule_text(RULE_B, "B")},
                                  headers=admin)
        assert wrong_id.status_code == 422
        bad = await http.put(f"/api/v1/detection/rules/{RULE_A}",
                             json={"yaml": rule_text(RULE_A, "A", level="apocalyptic")}, headers=admin)
        assert bad.status_code == 422 and bad.json()["detail"]["errors"][0]["line"] == 4
        assert (local / f"{RULE_A}.yml").read_text() == text  # a refused text changes nothing

        actions = [(a, t) for _actor, a, t in audit_actions(running.owner_dsn) if a.startswith("rule.")]
        assert actions == [("rule.create", RULE_A), ("rule.change", BUILTIN_ID), ("rule.delete", BUILTIN_ID)]


async def _until_hit(running: Any, rule_id: str, port: int, deadline: float) -> tuple[list[tuple[str, str, list[str]]],
                                                                                     str]:
    """Send one SSH failure at a time until a hit of `rule_id` names it; all hits then, and the
    event id of that failure."""
    while True:
        await asyncio.to_thread(send_tcp, running.tcp, failures(1, port))
        port += 1
        await asyncio.sleep(0.3)
        rows = await asyncio.to_thread(hits, running.owner_dsn)
        mine = [r for r in rows if r[0] == rule_id]
        if mine:
            return rows, mine[-1][2][0]
        assert time.monotonic() < deadline, f"no hit of {rule_id} in time: {rows}"


async def test_running_pipeline_follows_switches_and_edits(make_running: Any) -> None:
    """In a running pipeline: a rule created through the API starts hitting; once turned off
    it no longer hits (the marker rule B, saved after the switch, proves the workers reloaded
    both); an edit of B is picked up (its hits carry the new title); turned on again, A hits again."""
    async with make_running(detect=DetectSettings(reload_interval=0.3)) as running:
        admin, analyst, _viewer = await people(running)
        http = running.http
        deadline = time.monotonic() + 90
        created = await http.post("/api/v1/detection/rules", json={"yaml": rule_text(RULE_A, "Rule A")},
                                  headers=admin)
        assert created.status_code == 201
        await _until_hit(running, RULE_A, 5000, deadline)

        off = await http.put(f"/api/v1/detection/rules/{RULE_A}/enabled", json={"enabled": False}, headers=admin)
        assert off.status_code == 200 and off.json() == {"rule_id": RULE_A, "enabled": False}
        assert (await http.post("/api/v1/detection/rules", json={"yaml": rule_text(RULE_B, "Rule B")},
                                headers=admin)).status_code == 201
        rows, event_id = await _until_hit(running, RULE_B, 6000, deadline)
        assert not [r for r in rows if r[0] == RULE_A and event_id in r[2]]  # B hit that event, A did not
        listed = {r["rule_id"]: r for r in (await http.get("/api/v1/detection/rules", headers=analyst)).json()["data"]}
        assert listed[RULE_A]["enabled"] is False and listed[RULE_B]["origin"] == "local"
        detail = (await http.get(f"/api/v1/detection/rules/{RULE_A}", headers=analyst)).json()
        assert detail["enabled"] is False and detail["hits_24h"] >= 1

        renamed = await http.put(f"/api/v1/detection/rules/{RULE_B}", json={"yaml": rule_text(RULE_B, "Rule B v2")},
                                 headers=admin)
        assert renamed.status_code == 200
        on = await http.put(f"/api/v1/detection/rules/{RULE_A}/enabled", json={"enabled": True}, headers=admin)
        assert on.status_code == 200
        port = 7000
        while True:  # the edit and the switch reach the worker in one reload or two
            rows, event_id = await _until_hit(running, RULE_B, port, deadline)
            port += 50
            titles = {r[1] for r in rows if r[0] == RULE_B and event_id in r[2]}
            a_hit = [r for r in rows if r[0] == RULE_A and event_id in r[2]]
            if titles == {"Rule B v2"} and a_hit:
                break
            assert time.monotonic() < deadline, (titles, a_hit)
        switches = (running.settings.data_dir / "rules" / "switches.json").read_text()
        assert f'"{RULE_A}":true' in switches.replace(" ", "")
        actions = [a for _actor, a, t in audit_actions(running.owner_dsn) if a.startswith("rule.")]
        assert actions == ["rule.create", "rule.disable", "rule.create", "rule.change", "rule.enable"]


async def test_replay_counts_matches_over_stored_events_bounded(make_running: Any) -> None:
    """`POST /detection/rules/test` replays stored events through an unsaved text or a loaded
    rule: five failures stored, five matches with their event ids; `max_events` cuts it and
    says so; a text with errors is a 422 with its findings; a viewer may not test."""
    async with make_running(detect=DetectSettings(reload_interval=0.5)) as running:
        _admin, analyst, viewer = await people(running)
        http = running.http
        await asyncio.to_thread(send_tcp, running.tcp, failures(5))
        await running.wait_stored(5)
        url = "/api/v1/detection/rules/test"
        tried = await http.post(url, json={"yaml": rule_text(RULE_A, "Try")}, headers=analyst)
        assert tried.status_code == 200, tried.text
        body = tried.json()
        assert (body["rule_id"], body["matches"], body["truncated"]) == (RULE_A, 5, None)
        assert body["events_replayed"] >= 5 and len({m["event_id"] for m in body["examples"]}) == 5
        assert body["never_present"] == []

        stored = await http.post(url, json={"rule_id": BUILTIN_ID}, headers=analyst)
        assert stored.status_code == 200 and stored.json()["matches"] == 5

        cut = await http.post(url, json={"rule_id": BUILTIN_ID, "max_events": 2}, headers=analyst)
        assert cut.json()["events_replayed"] == 2 and cut.json()["truncated"] == "max_events"

        bad = await http.post(url, json={"yaml": rule_text(RULE_A, "Bad", level="apocalyptic")}, headers=analyst)
        assert bad.status_code == 422 and bad.json()["detail"]["errors"][0]["line"] == 4
        missing = await http.post(url, json={"rule_id": "no-such-rule"}, headers=analyst)
        assert missing.status_code == 404
        neither = await http.post(url, json={}, headers=analyst)
        assert neither.status_code == 422
        assert (await http.post(url, json={"rule_id": BUILTIN_ID}, headers=viewer)).status_code == 403


async def test_import_reports_per_file_and_proposals_wait_for_an_admin(make_running: Any) -> None:
    """An import of a good and a bad file saves the good one and reports the bad one with its
    line; an analyst's proposal is listed, not loaded, and becomes a local rule once an admin
    accepts it; a rejected proposal is gone."""
    async with make_running(detect=DetectSettings(reload_interval=0.5)) as running:
        admin, analyst, _viewer = await people(running)
        http = running.http
        files = [{"name": "good.yml", "yaml": rule_text(RULE_A, "Imported")},
                 {"name": "bad.yml", "yaml": rule_text(RULE_B, "Broken", level="apocalyptic")}]
        imported = await http.post("/api/v1/detection/rules/import", json={"files": files}, headers=admin)
        assert imported.status_code == 200, imported.text
        body = imported.json()
        assert (body["saved"], body["refused"]) == (1, 1)
        good, bad = body["files"]
        assert good["saved"] and good["rule_id"] == RULE_A
        assert not bad["saved"] and bad["errors"][0]["line"] == 4
        assert (await http.post("/api/v1/detection/rules/import", json={"files": files},
                                headers=analyst)).status_code == 403
        assert (await http.post("/api/v1/detection/rules/import", json={"files": []},
                                headers=admin)).status_code == 422

        proposed = await http.post("/api/v1/detection/rules/proposals",
                                   json={"yaml": rule_text(RULE_B, "Proposed B")}, headers=analyst)
        assert proposed.status_code == 201, proposed.text
        assert (proposed.json()["rule_id"], proposed.json()["proposed_by"]) == (RULE_B, "ana")
        listed = (await http.get("/api/v1/detection/rules/proposals", headers=analyst)).json()
        assert [p["title"] for p in listed["data"]] == ["Proposed B"]
        assert (await http.get(f"/api/v1/detection/rules/{RULE_B}", headers=analyst)).status_code == 404
        assert (await http.post(f"/api/v1/detection/rules/proposals/{RULE_B}/accept",
                                headers=analyst)).status_code == 403
        accepted = await http.post(f"/api/v1/detection/rules/proposals/{RULE_B}/accept", headers=admin)
        assert accepted.status_code == 200, accepted.text
        detail = (await http.get(f"/api/v1/detection/rules/{RULE_B}", headers=analyst)).json()
        assert (detail["title"], detail["origin"]) == ("Proposed B", "local")
        assert (await http.get("/api/v1/detection/rules/proposals", headers=analyst)).json()["count"] == 0

        await http.post("/api/v1/detection/rules/proposals", json={"yaml": rule_text(RULE_A, "Other")},
                        headers=analyst)
        assert (await http.delete(f"/api/v1/detection/rules/proposals/{RULE_A}", headers=admin)).status_code == 204
        assert (await http.get("/api/v1/detection/rules/proposals", headers=analyst)).json()["count"] == 0
        actions = [a for _actor, a, _t in audit_actions(running.owner_dsn) if a.startswith("rule.")]
        assert actions == ["rule.import", "rule.propose", "rule.accept", "rule.propose", "rule.reject"]


def test_local_rules_folder_is_the_last_rule_folder(tmp_path: Path) -> None:
    """`detect_settings` puts data_dir/rules/local after detect.rules_dirs (so it wins by id)."""
    from guetteur.config import Settings, detect_settings

    settings = Settings(data_dir=tmp_path, detect=DetectSettings(rules_dirs=[tmp_path / "mine"]))
    detect = detect_settings(settings)
    assert detect.rule_folders() == [tmp_path / "mine"]  # not there yet
    assert detect.rule_folders(watch=True) == [tmp_path / "mine", tmp_path / "rules" / "local"]
    (tmp_path / "rules" / "local").mkdir(parents=True)
    assert detect.rule_folders() == [tmp_path / "mine", tmp_path / "rules" / "local"]
    assert detect.switches_file() == tmp_path / "rules" / "switches.json"
