"""Rule management under `/api/v1/detection/rules`: read one rule with its YAML, validate,
test on stored events, create, edit, import, delete, turn on and off, and proposals.

Who may do what (issue 10): analysts read rules, validate, test and propose; admins do
everything else. Viewers keep the rule list (`GET /detection/rules`, `routes/detection.py`).

Rules written here are files in the local rules folder (`detect.managed_dir/local`, by default
`data_dir/rules/local`, `detect/local_rules.py`), the last of the rule folders: a rule there
replaces the one with the same id from the built-in pack or `detect.rules_dirs`. Editing a
built-in rule therefore saves an override copy; deleting that copy brings the built-in rule
back. The pipeline's hot reload picks files up within `detect.reload_interval` in every worker,
the correlation stage and the statistical detectors. Every write is in the audit trail.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from guetteur.api.audit_trail import record
from guetteur.api.deps import Admin, Analyst, State, client_address
from guetteur.api.rule_library import Located, RuleLibrary, get_library
from guetteur.detect.local_rules import valid_rule_id
from guetteur.detect.replay import RuleReplay
from guetteur.detect.rule_check import MAX_TEXT_BYTES, RuleCheck, check_rule_text
from guetteur.detect.rules import LoadedCorrelation, LoadedRule, RuleSet
from guetteur.store.alert_queries import rule_statistics
from guetteur.store.audit import AuditEntry
from guetteur.store.rule_queries import rule_events, rule_hits

router = APIRouter(prefix="/detection/rules", tags=["rules"])
Library = Annotated[RuleLibrary, Depends(get_library)]

RULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
TEST_TIMEOUT_SECONDS = 30.0
TEST_MAX_EVENTS = 1_000_000
MAX_IMPORT_FILES = 50
RuleText = Annotated[str, Field(max_length=MAX_TEXT_BYTES, description="the YAML text (one or more documents)")]
RuleId = Annotated[str, Field(min_length=1, max_length=128, pattern=RULE_ID_PATTERN)]


# -- models ---------------------------------------------------------------------------------


class FindingPublic(BaseModel):
    message: str
    severity: Literal["error", "warning"]
    line: int | None = Field(None, description="1-based line of the text, when known")
    column: int | None = Field(None, description="1-based column, when known")


class ValidationPublic(BaseModel):
    valid: bool = Field(description="no error (warnings allowed): the text can be saved")
    errors: list[FindingPublic]
    warnings: list[FindingPublic]
    rule_ids: list[str] = Field(description="ids of the rules the text defines")
    main_id: str | None = Field(None, description="the rule the text is about (its outermost correlation, "
                                                  "else its first rule)")


class RuleTextBody(BaseModel):
    yaml: RuleText


class RuleDetail(BaseModel):
    """One rule: what it is, its YAML, where it comes from, whether it runs, what it did."""

    rule_id: str
    kind: Literal["rule", "correlation", "first_seen"]
    title: str
    level: str | None = None
    status: str | None = None
    tags: list[str] = Field(default_factory=list)
    techniques: list[str] = Field(default_factory=list, description="ATT&CK technique ids")
    enabled: bool
    origin: Literal["builtin", "folder", "local"] = Field(
        description="builtin: the rule pack; folder: detect.rules_dirs; local: written through the API")
    file: str = Field(description="the rule file, `folder/file.yml`")
    file_id: str | None = Field(None, description="local rules: the id naming the file (PUT/DELETE it)")
    replaces: str | None = Field(None, description="a local rule replacing a rule with the same id: that "
                                                   "rule's file")
    yaml: str = Field(description="the whole rule file (it may hold several documents)")
    hits_24h: int = Field(0, description="stored hits of the rule in the last 24 hours (alerting hits)")
    hits_7d: int = 0
    alerts_30d: int = Field(0, description="alerts of the rule created in the last 30 days")
    closed_30d: int = 0
    false_positive_ratio: float | None = Field(None, description="false positives among its alerts closed "
                                                                 "with a reason (30 days)")


class SavedRule(BaseModel):
    rule_id: str = Field(description="the id naming the file")
    file: str
    rule_ids: list[str] = Field(description="every rule id the file defines")
    overrides: list[str] = Field(description="ids of rules from the pack or rules_dirs it replaces")
    warnings: list[FindingPublic]


class EnabledBody(BaseModel):
    enabled: bool


class EnabledPublic(BaseModel):
    rule_id: str
    enabled: bool


class TestBody(BaseModel):
    yaml: RuleText | None = Field(None, description="a rule text to try (not saved); or `rule_id`")
    rule_id: RuleId | None = Field(None, description="a loaded rule to try")
    hours: int = Field(24, ge=1, le=24 * 7, description="replay the stored events of the last N hours")
    max_events: int = Field(200_000, ge=1, le=TEST_MAX_EVENTS, description="replay at most this many events")


class TestMatch(BaseModel):
    time: str | None = None
    event_id: str | None = None
    host: str | None = None
    events: int = 1


class TestPublic(BaseModel):
    rule_id: str
    title: str
    since: datetime
    events_replayed: int
    matches: int = Field(description="times the rule fired over the replayed events")
    examples: list[TestMatch] = Field(description="the first matches (event ids to open in the explorer)")
    events_in_logsource: dict[str, int]
    never_present: list[str] = Field(description="fields the rule reads that no replayed event holds")
    truncated: Literal["max_events", "timeout"] | None = Field(
        None, description="why the replay stopped before the end of the window, if it did")


class ImportFile(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    yaml: RuleText


class ImportBody(BaseModel):
    files: list[ImportFile] = Field(min_length=1, max_length=MAX_IMPORT_FILES)


class ImportResult(BaseModel):
    name: str
    saved: bool
    rule_id: str | None = None
    rule_ids: list[str] = Field(default_factory=list)
    errors: list[FindingPublic] = Field(default_factory=list)
    warnings: list[FindingPublic] = Field(default_factory=list)


class ImportPublic(BaseModel):
    saved: int
    refused: int
    files: list[ImportResult]


class ProposalPublic(BaseModel):
    rule_id: str
    title: str | None
    proposed_by: str | None
    proposed_at: datetime
    yaml: str


class ProposalsPublic(BaseModel):
    data: list[ProposalPublic]
    count: int


# -- helpers --------------------------------------------------------------------------------


def _findings(check: RuleCheck, severity: str) -> list[FindingPublic]:
    return [FindingPublic(message=f.message, severity=f.severity,
                          line=f.line, column=f.column) for f in check.findings if f.severity == severity]


def _validation(check: RuleCheck) -> ValidationPublic:
    return ValidationPublic(valid=not check.errors, errors=_findings(check, "error"),
                            warnings=_findings(check, "warning"), rule_ids=check.ids, main_id=check.main_id)


def _unprocessable(message: str, check: RuleCheck | None = None) -> HTTPException:
    detail: Any = message if check is None else {
        "message": message, "errors": [f.model_dump() for f in _findings(check, "error")]}
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


async def _check(library: RuleLibrary, text: str) -> RuleCheck:
    base = await library.ruleset()
    return await asyncio.to_thread(check_rule_text, text, base, placeholders=library.detect.placeholders)


def _short(path: Path) -> str:
    return "/".join(path.parts[-2:])


def _id_param(rule_id: str) -> str:
    if not valid_rule_id(rule_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule (ids are letters, digits, '.', '_', '-')")
    return rule_id


async def _saveable(library: RuleLibrary, text: str, file_id: str | None) -> tuple[RuleCheck, str, list[str]]:
    """Check a text to save as local file `file_id` (None: named after its main rule): it must
    have no error, ids for its rules, define `file_id`, and no id another local file defines.
    Returns (check, the file id, the ids it overrides from the pack or rules_dirs)."""
    check = await _check(library, text)
    if check.errors:
        raise _unprocessable("the rule text has errors", check)
    if any(i.startswith("<text>") for i in check.ids):
        raise _unprocessable("every rule must have an `id` (a UUID) or a `name` to be saved")
    name = file_id or check.main_id
    if name is None or not valid_rule_id(name):
        raise _unprocessable(f"rule id {str(name)[:80]!r} cannot name a file: letters, digits, '.', '_', '-' only")
    if name not in check.ids:
        raise _unprocessable(f"the text does not define rule {name}")
    overrides = []
    for rule_id in check.ids:
        found = await library.find(rule_id)
        if found is None:
            continue
        if library.origin(found.path) == "local":
            if found.path.stem != name:
                raise HTTPException(status.HTTP_409_CONFLICT,
                                    f"rule {rule_id} is already defined by local rule file {found.path.stem}")
        elif library.local.local_text(rule_id) is None:
            overrides.append(rule_id)
    return check, name, overrides


async def _audit(state: Any, request: Request, actor: str, action: str, target: str, **detail: Any) -> None:
    await record(state, AuditEntry(actor, action, "success", client_address(request), target,
                                   {k: str(v)[:200] for k, v in detail.items()}))


def _saved(check: RuleCheck, name: str, path: Path, overrides: list[str]) -> SavedRule:
    return SavedRule(rule_id=name, file=_short(path), rule_ids=check.ids, overrides=overrides,
                     warnings=_findings(check, "warning"))


# -- reading --------------------------------------------------------------------------------


@router.post("/validate", response_model=ValidationPublic)
async def validate_rule(body: RuleTextBody, library: Library, who: Analyst) -> ValidationPublic:
    """Check a YAML text of rules (Sigma rules, correlation rules, first-seen rules) without
    saving it: every error and warning with its line and column where known. A bad text is a
    200 with `valid: false`, never an error status."""
    del who
    return _validation(await _check(library, body.yaml))


@router.get("/proposals", response_model=ProposalsPublic)
async def list_proposals(library: Library, who: Analyst) -> ProposalsPublic:
    """Rules analysts proposed, waiting for an admin (newest first)."""
    del who
    proposals = []
    for path in await asyncio.to_thread(library.local.proposal_files):
        proposal = await asyncio.to_thread(_proposal, path)
        if proposal is not None:
            proposals.append(proposal)
    proposals.sort(key=lambda p: p.proposed_at, reverse=True)
    return ProposalsPublic(data=proposals, count=len(proposals))


def _proposal(path: Path) -> ProposalPublic | None:
    try:
        text = path.read_text(encoding="utf-8")
        stat = path.stat()
    except (OSError, UnicodeDecodeError):
        return None
    title = proposer = None
    for line in text.splitlines()[:200]:
        if line.startswith("# proposed by: ") and proposer is None:
            proposer = line.removeprefix("# proposed by: ").strip()[:100]
        elif line.startswith("title:") and title is None:
            title = line.removeprefix("title:").strip().strip("'\"")[:300]
    return ProposalPublic(rule_id=path.stem, title=title, proposed_by=proposer,
                          proposed_at=datetime.fromtimestamp(stat.st_mtime, UTC), yaml=text)


@router.get("/{rule_id}", response_model=RuleDetail)
async def get_rule(rule_id: str, state: State, library: Library, who: Analyst) -> RuleDetail:
    """One rule: title, level, ATT&CK techniques, its YAML file, where it comes from (pack,
    rules folder or local), whether it runs, stored hits over 24 h and 7 days and its alerts'
    false-positive ratio (30 days)."""
    del who
    found = await library.find(_id_param(rule_id))
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
    try:
        text = await asyncio.to_thread(found.path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    hits = (await rule_hits(state.pool, rule_id)).get(rule_id, (0, 0))
    stats = await rule_statistics(state.pool, 30, rule_id)
    origin = library.origin(found.path)
    return RuleDetail(
        **_describe(library, found, await library.catalogue()), origin=origin, file=_short(found.path),
        file_id=found.path.stem if origin == "local" else None, yaml=text, hits_24h=hits[0], hits_7d=hits[1],
        alerts_30d=stats[0].alerts if stats else 0, closed_30d=stats[0].closed if stats else 0,
        false_positive_ratio=stats[0].false_positive_ratio if stats else None)


def _describe(library: RuleLibrary, found: Located, catalogue: Any) -> dict[str, Any]:
    rule = found.rule
    if found.kind == "first_seen":
        off = library.disabled()
        return {"rule_id": rule.id, "kind": "first_seen", "title": str(getattr(rule, "title", rule.id)),
                "level": getattr(rule, "level", None), "enabled": rule.id not in off,
                "tags": list(getattr(rule, "tags", ()) or ()), "replaces": None}
    info = (catalogue.rules if found.kind == "rule" else catalogue.correlations).get(rule.id)
    if info is None:  # the catalogue follows the same load: only in a race with a reload
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
    return {"rule_id": info.id, "kind": found.kind, "title": info.title, "level": info.level,
            "status": info.status, "tags": list(info.tags), "techniques": list(info.attack.techniques),
            "enabled": info.enabled, "replaces": info.replaces}


# -- testing --------------------------------------------------------------------------------


@router.post("/test", response_model=TestPublic)
async def test_rule(body: TestBody, state: State, library: Library, who: Analyst) -> TestPublic:
    """Replay the stored events of the last `hours` (24 by default) through a rule text (not
    saved) or a loaded rule, with the correlations it needs in a state of their own: how many
    times it fires, the first matches and the fields it reads that no event holds. Bounded:
    at most `max_events` events and 30 seconds (`truncated` says which cut it); two replays at
    a time (429 beyond)."""
    del who
    if (body.yaml is None) == (body.rule_id is None):
        raise _unprocessable("give either `yaml` or `rule_id`")
    ruleset, target = await _target(library, body)
    if library.tests.locked():
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "two rule tests are running: try again soon",
                            headers={"Retry-After": "5"})
    async with library.tests:
        replay = await asyncio.to_thread(RuleReplay, ruleset, target, 20)
        since = datetime.now(UTC) - timedelta(hours=body.hours)
        deadline = time.monotonic() + TEST_TIMEOUT_SECONDS
        truncated: Literal["max_events", "timeout"] | None = None
        async with state.pool.connection() as conn:
            pages = rule_events(conn, since, body.max_events + 1, int(TEST_TIMEOUT_SECONDS * 1000))
            async for page in pages:
                room = body.max_events - replay.report.events
                if len(page) > room:
                    page, truncated = page[:room], "max_events"
                await asyncio.to_thread(replay.feed, page)
                if truncated is None and time.monotonic() > deadline:
                    truncated = "timeout"
                if truncated is not None:
                    await pages.aclose()
                    break
        report = await asyncio.to_thread(replay.finish)
    summary = report.to_dict()
    return TestPublic(
        rule_id=report.rule_id, title=report.title, since=since, events_replayed=report.events,
        matches=report.match_count, events_in_logsource=report.in_logsource,
        never_present=summary["never_present"], truncated=truncated,
        examples=[TestMatch(time=None if m["time"] is None else str(m["time"]),
                            event_id=None if m["event_id"] is None else str(m["event_id"]),
                            host=None if m["host"] is None else str(m["host"]), events=int(m["events"] or 1))
                  for m in report.matches])


async def _target(library: RuleLibrary, body: TestBody) -> tuple[RuleSet, LoadedRule | LoadedCorrelation]:
    base = await library.ruleset()
    if body.rule_id is not None:
        found = await library.find(body.rule_id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
        if found.kind == "first_seen":
            raise _unprocessable("first-seen rules learn from history: the replay runs Sigma rules and correlations")
        return base, found.rule
    assert body.yaml is not None
    check = await _check(library, body.yaml)
    if check.errors:
        raise _unprocessable("the rule text has errors", check)
    main = check.main_id
    own_ids = {r.id for r in check.rules}
    chosen: list[LoadedRule | LoadedCorrelation] = [*check.correlations, *check.rules]
    target = next((r for r in chosen if r.id == main), None)
    if target is None:
        raise _unprocessable("first-seen rules learn from history: the replay runs Sigma rules and correlations")
    ruleset = RuleSet(rules=[r for r in base.rules if r.id not in own_ids] + check.rules,
                      correlations=list(check.correlations), filters=list(base.filters))
    return ruleset, target


# -- writing (admins) -----------------------------------------------------------------------


@router.post("", response_model=SavedRule, status_code=status.HTTP_201_CREATED)
async def create_rule(body: RuleTextBody, request: Request, state: State, library: Library,
                      who: Admin) -> SavedRule:
    """Save a new rule file (named after its main rule) in the local rules folder; the pipeline
    loads it within `detect.reload_interval`. 409 when the main rule's id is already loaded
    (edit it with PUT instead); 422 with the findings when the text has errors."""
    check = await _check(library, body.yaml)
    main = check.main_id
    if not check.errors and main is not None and await library.find(main) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"rule {main} exists: edit it (PUT) instead")
    check, name, overrides = await _saveable(library, body.yaml, None)
    path = await asyncio.to_thread(library.local.save, name, body.yaml)
    library.invalidate()
    await _audit(state, request, who.actor, "rule.create", name, rules=",".join(check.ids))
    return _saved(check, name, path, overrides)


@router.put("/{rule_id}", response_model=SavedRule)
async def save_rule(rule_id: str, body: RuleTextBody, request: Request, state: State, library: Library,
                    who: Admin) -> SavedRule:
    """Replace a rule's text. For a local rule its file is replaced; for a rule of the pack or
    of `detect.rules_dirs` an override copy is saved in the local rules folder (it wins by
    rule id; delete it to go back). The text must define `rule_id`."""
    _id_param(rule_id)
    if await library.find(rule_id) is None and library.local.local_text(rule_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule (create it with POST)")
    check, name, overrides = await _saveable(library, body.yaml, rule_id)
    path = await asyncio.to_thread(library.local.save, name, body.yaml)
    library.invalidate()
    await _audit(state, request, who.actor, "rule.change", name, rules=",".join(check.ids),
                 overrides=",".join(overrides))
    return _saved(check, name, path, overrides)


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: str, request: Request, state: State, library: Library, who: Admin) -> None:
    """Delete a local rule file (an override copy: the pack's rule runs again). Rules of the pack
    cannot be deleted: turn them off."""
    _id_param(rule_id)
    if not await asyncio.to_thread(library.local.delete, rule_id):
        found = await library.find(rule_id)
        raise HTTPException(status.HTTP_404_NOT_FOUND if found is None else status.HTTP_409_CONFLICT,
                            "no such rule" if found is None else "not a local rule: turn it off instead")
    library.invalidate()
    await _audit(state, request, who.actor, "rule.delete", rule_id)


@router.put("/{rule_id}/enabled", response_model=EnabledPublic)
async def set_enabled(rule_id: str, body: EnabledBody, request: Request, state: State, library: Library,
                      who: Admin) -> EnabledPublic:
    """Turn a rule (or correlation, or first-seen rule) on or off. Kept in the managed folder's
    `switches.json` (survives restarts, overrides `detect.disabled_rules`); every worker and the
    correlation stage apply it within `detect.reload_interval`."""
    _id_param(rule_id)
    if await library.find(rule_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such rule")
    await asyncio.to_thread(library.local.switch, rule_id, body.enabled)
    library.invalidate()
    await _audit(state, request, who.actor, "rule.enable" if body.enabled else "rule.disable", rule_id)
    return EnabledPublic(rule_id=rule_id, enabled=body.enabled)


@router.post("/import", response_model=ImportPublic)
async def import_rules(body: ImportBody, request: Request, state: State, library: Library,
                       who: Admin) -> ImportPublic:
    """Import rule files (up to 50, 256 KB each): each is validated and saved as a local rule
    file named after its main rule, or refused with its findings; one bad file does not stop
    the others. A file whose main rule exists replaces it (an override copy for the pack's)."""
    results = []
    for item in body.files:
        try:
            check, name, overrides = await _saveable(library, item.yaml, None)
        except HTTPException as exc:
            detail = exc.detail
            errors: list[dict[str, Any]] = detail.get("errors", []) if isinstance(detail, dict) else []
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
            findings = [FindingPublic(**e) for e in errors] or [FindingPublic(message=str(message),
                                                                              severity="error")]
            results.append(ImportResult(name=item.name, saved=False, errors=findings))
            continue
        await asyncio.to_thread(library.local.save, name, item.yaml)
        library.invalidate()
        results.append(ImportResult(name=item.name, saved=True, rule_id=name, rule_ids=check.ids,
                                    warnings=_findings(check, "warning")))
        await _audit(state, request, who.actor, "rule.import", name, file=item.name,
                     overrides=",".join(overrides))
    saved = sum(1 for r in results if r.saved)
    return ImportPublic(saved=saved, refused=len(results) - saved, files=results)


# -- proposals ------------------------------------------------------------------------------


@router.post("/proposals", response_model=ProposalPublic, status_code=status.HTTP_201_CREATED)
async def propose_rule(body: RuleTextBody, request: Request, state: State, library: Library,
                       who: Analyst) -> ProposalPublic:
    """Propose a rule text (an analyst's way to a new or changed rule): validated, kept apart
    (never loaded) until an admin accepts or rejects it. A new proposal for the same rule
    replaces the previous one."""
    check = await _check(library, body.yaml)
    if check.errors:
        raise _unprocessable("the rule text has errors", check)
    name = check.main_id
    if name is None or name.startswith("<text>") or not valid_rule_id(name):
        raise _unprocessable("the rule needs an `id` (a UUID) or a `name` made of letters, digits, '.', '_', '-'")
    text = f"# proposed by: {who.actor}\n{body.yaml}"
    path = await asyncio.to_thread(library.local.propose, name, text)
    await _audit(state, request, who.actor, "rule.propose", name)
    proposal = _proposal(path)
    if proposal is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "the proposal vanished")
    return proposal


@router.post("/proposals/{rule_id}/accept", response_model=SavedRule)
async def accept_proposal(rule_id: str, request: Request, state: State, library: Library,
                          who: Admin) -> SavedRule:
    """Accept a proposal: saved as a local rule (checked again against the rules loaded now)."""
    _id_param(rule_id)
    text = library.local.proposal_text(rule_id)
    if text is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such proposal")
    check, name, overrides = await _saveable(library, text, rule_id)
    path = await asyncio.to_thread(library.local.save, name, text)
    library.local.drop_proposal(rule_id)
    library.invalidate()
    await _audit(state, request, who.actor, "rule.accept", name, overrides=",".join(overrides))
    return _saved(check, name, path, overrides)


@router.delete("/proposals/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def reject_proposal(rule_id: str, request: Request, state: State, library: Library, who: Admin) -> None:
    """Reject (delete) a proposal."""
    _id_param(rule_id)
    if not library.local.drop_proposal(rule_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such proposal")
    await _audit(state, request, who.actor, "rule.reject", rule_id)
