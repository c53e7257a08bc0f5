"""`guetteur rules list|validate|test|coverage|enable|disable`: inspect, check, try and switch the Sigma rules.

Rules come from the built-in pack (`rules/`), then `settings.detect.rules_dirs`, then any
`--rules DIR` given. `rules test` replays events stored in the database (read only).
Registered by `cli/commands_detect.register_rules`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from guetteur.cli.common import console, settings_from
from guetteur.detect import attack

if TYPE_CHECKING:  # pySigma is imported lazily: `guetteur --help` must stay fast
    from guetteur.detect.rules import LoadedCorrelation, LoadedRule, RuleSet

rules_app = typer.Typer(
    help="Sigma rules: list, validate, test against stored events, ATT&CK coverage, turn on or off.",
    no_args_is_help=True
)
out = Console(soft_wrap=True)

RulesOption = Annotated[
    list[Path] | None, typer.Option("--rules", "-r", help="extra rule folder or file (repeatable)")
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="table or json")]
LEVELS = ("informational", "low", "medium", "high", "critical")


def _load(ctx: typer.Context, extra: list[Path] | None) -> RuleSet:
    from guetteur.config import detect_settings
    from guetteur.detect.local_rules import disabled_rules
    from guetteur.detect.rules import default_rule_paths, load_rules

    detect = detect_settings(settings_from(ctx))
    ruleset = load_rules(default_rule_paths([*detect.rule_folders(), *(extra or [])]))
    off = disabled_rules(detect.disabled_rules, detect.switches_file())
    everything: list[LoadedRule | LoadedCorrelation] = [*ruleset.rules, *ruleset.correlations]
    for loaded in everything:  # as the pipeline runs them: the operator's switches applied
        if loaded.id in off or (loaded.rule.name or "") in off:
            loaded.enabled = False
    return ruleset


def _emit_json(payload: Any) -> None:
    sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        console.print(f"[red]unknown format {fmt!r}[/red] (table or json)")
        raise typer.Exit(2)


# ---------------------------------------------------------------------------- list


@dataclass(slots=True)
class RuleRow:
    id: str
    title: str
    kind: str  # "rule" or the correlation type
    level: str
    status: str
    logsource: str
    attack: list[str]
    unknown_attack: list[str]
    enabled: bool
    source: str
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "type": self.kind,
            "level": self.level,
            "status": self.status,
            "logsource": self.logsource,
            "attack": self.attack,
            "attack_unknown": self.unknown_attack,
            "enabled": self.enabled,
            "source": self.source,
            "tags": self.tags,
        }


def _name(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "name", value)).lower()


def _logsource_text(rule: Any) -> str:
    logsource = getattr(rule, "logsource", None)
    if logsource is None:
        return ""
    parts = [p for p in (logsource.product, logsource.category, logsource.service) if p]
    return "/".join(parts)


def rule_rows(ruleset: RuleSet) -> list[RuleRow]:
    """One row per rule and correlation of a RuleSet, for listing."""
    rows: list[RuleRow] = []
    from sigma.correlations import SigmaCorrelationRule

    everything: list[LoadedRule | LoadedCorrelation] = [*ruleset.rules, *ruleset.correlations]
    for loaded in everything:
        rule = loaded.rule
        tags = [attack.tag_text(t) for t in rule.tags or ()]
        refs = attack.parse_tags(tags)
        known = [r.effective_id for r in refs if r.kind in ("technique", "tactic") and r.status != "unknown"]
        unknown = [r.id for r in refs if r.status == "unknown"]
        if isinstance(rule, SigmaCorrelationRule):
            kind = _name(rule.type)
            logsource = "correlation of " + ", ".join(ref.reference for ref in (rule.rules or []))
        else:
            kind = "rule"
            logsource = _logsource_text(rule)
        rows.append(
            RuleRow(
                id=loaded.id,
                title=str(rule.title),
                kind=kind,
                level=_name(rule.level) or "medium",
                status=_name(rule.status),
                logsource=logsource,
                attack=list(dict.fromkeys(known)),
                unknown_attack=unknown,
                enabled=bool(loaded.enabled),
                source=str(loaded.source),
                tags=tags,
            )
        )
    return rows


def _matches(
    row: RuleRow,
    level: str | None,
    status: str | None,
    logsource: str | None,
    tag: str | None,
    search: str | None,
) -> bool:
    if level and row.level != level.lower():
        return False
    if status and row.status != status.lower():
        return False
    if logsource and logsource.lower() not in row.logsource.lower():
        return False
    if tag:
        wanted = tag.lower().removeprefix("attack.")
        texts = [t.lower().removeprefix("attack.") for t in row.tags] + [a.lower() for a in row.attack]
        if not any(t == wanted or t.startswith(wanted + ".") for t in texts):
            return False
    if search and search.lower() not in f"{row.id} {row.title}".lower():
        return False
    return True


@rules_app.command("list")
def list_command(
    ctx: typer.Context,
    level: Annotated[str | None, typer.Option(help="only this level (informational..critical)")] = None,
    status: Annotated[
        str | None, typer.Option(help="only this status (stable, test, experimental...)")
    ] = None,
    logsource: Annotated[
        str | None, typer.Option(help="log source text contains (windows, linux/sshd...)")
    ] = None,
    tag: Annotated[
        str | None, typer.Option(help="ATT&CK technique/tactic or any tag (t1110, credential-access)")
    ] = None,
    search: Annotated[str | None, typer.Option(help="id or title contains")] = None,
    min_level: Annotated[str | None, typer.Option(help="this level or higher")] = None,
    enabled_only: Annotated[bool, typer.Option("--enabled-only", help="hide disabled rules")] = False,
    rules: RulesOption = None,
    fmt: FormatOption = "table",
) -> None:
    """List the loaded rules: id, title, level, status, log source, ATT&CK, enabled."""
    _check_format(fmt)
    ruleset = _load(ctx, rules)
    rows = [r for r in rule_rows(ruleset) if _matches(r, level, status, logsource, tag, search)]
    if min_level:
        floor = LEVELS.index(min_level.lower()) if min_level.lower() in LEVELS else 0
        rows = [r for r in rows if r.level in LEVELS and LEVELS.index(r.level) >= floor]
    if enabled_only:
        rows = [r for r in rows if r.enabled]
    if fmt == "json":
        _emit_json({"data": [r.to_dict() for r in rows], "count": len(rows), "errors": len(ruleset.errors)})
        return
    table = Table(show_lines=False)
    for column in ("id", "title", "type", "level", "status", "logsource", "ATT&CK", "enabled"):
        table.add_column(column, overflow="fold")
    for row in rows:
        techniques = ", ".join(row.attack + [f"{u}?" for u in row.unknown_attack])
        table.add_row(
            row.id,
            row.title,
            row.kind,
            row.level,
            row.status,
            row.logsource,
            techniques,
            "yes" if row.enabled else "no",
        )
    out.print(table)
    console.print(
        f"{len(rows)} rules"
        + (
            f"; {len(ruleset.errors)} files/rules not loaded (see `guetteur rules validate`)"
            if ruleset.errors
            else ""
        )
    )


# ---------------------------------------------------------------------------- validate


@dataclass(slots=True)
class Finding:
    file: str
    reason: str
    severity: str  # "error" (the rule cannot be used) or "warning"

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason, "severity": self.severity}


def validate_paths(paths: Iterable[Path]) -> tuple[RuleSet, list[Finding]]:
    """Load, compile and check rules; errors make a rule unusable, warnings do not."""
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.engine import Detector
    from guetteur.detect.rules import load_rules, validate_rules

    ruleset = load_rules(list(paths))
    findings = [Finding(e.file, e.reason, "error") for e in ruleset.errors]
    detector = Detector(ruleset, timing=False)
    findings += [Finding(e.file, e.reason, "error") for e in detector.errors]
    findings += [Finding(e.file, f"never fires: {e.reason}", "warning") for e in detector.unrouted]
    correlations = CorrelationEngine(ruleset.correlations, lateness=0)
    sources = {c.id: c.source for c in ruleset.correlations}
    findings += [
        Finding(sources.get(rid, rid), f"correlation {rid}: {why}", "error")
        for rid, why in correlations.errors
    ]
    everything: list[LoadedRule | LoadedCorrelation] = [*ruleset.rules, *ruleset.correlations]
    for loaded in everything:
        for ref in attack.parse_tags(loaded.rule.tags or ()):
            if ref.status == "unknown":
                findings.append(
                    Finding(
                        loaded.source,
                        f"ATT&CK tag {ref.tag} not in ATT&CK {attack.catalogue().version}",
                        "warning",
                    )
                )
            elif ref.status == "revoked":
                findings.append(
                    Finding(
                        loaded.source,
                        f"ATT&CK tag {ref.tag} revoked, now {ref.replacement} ({ref.replacement_name})",
                        "warning",
                    )
                )
            elif ref.status == "deprecated":
                findings.append(
                    Finding(loaded.source, f"ATT&CK tag {ref.tag} deprecated by MITRE", "warning")
                )
    try:
        findings += [Finding(e.file, e.reason, "warning") for e in validate_rules(ruleset)]
    except Exception as exc:  # a validator crash must not hide the real errors above
        findings.append(Finding("-", f"pySigma validators failed: {exc}", "warning"))
    return ruleset, findings


@rules_app.command("validate")
def validate_command(
    paths: Annotated[list[Path], typer.Argument(help="rule files or folders")],
    strict: Annotated[bool, typer.Option("--strict", help="warnings fail too")] = False,
    fmt: FormatOption = "table",
) -> None:
    """Check rule files: every bad rule with its file and reason; exit 1 if any is unusable."""
    _check_format(fmt)
    missing = [p for p in paths if not p.exists()]
    ruleset, findings = validate_paths([p for p in paths if p.exists()])
    findings = [Finding(str(p), "no such file or folder", "error") for p in missing] + findings
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if fmt == "json":
        _emit_json(
            {
                "rules": len(ruleset.rules),
                "correlations": len(ruleset.correlations),
                "first_seen": len(ruleset.first_seen),
                "errors": [f.to_dict() for f in errors],
                "warnings": [f.to_dict() for f in warnings],
            }
        )
    else:
        for finding in findings:
            colour = "red" if finding.severity == "error" else "yellow"
            out.print(
                f"[{colour}]{finding.severity}[/{colour}] {finding.file}: {finding.reason}", highlight=False
            )
        console.print(
            f"{len(ruleset.rules)} rules, {len(ruleset.correlations)} correlations, "
            f"{len(ruleset.first_seen)} first-seen rules loaded; "
            f"{len(errors)} errors, {len(warnings)} warnings"
        )
    if errors or (strict and warnings):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- test

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `12h`, `7d`, `2w` -> timedelta. Raises ValueError."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"bad duration {text!r} (use e.g. 30m, 12h, 7d)")
    return timedelta(seconds=float(match[1]) * _UNIT[match[2]])


def _find(ruleset: RuleSet, wanted: str) -> LoadedRule | LoadedCorrelation | None:
    everything: list[LoadedRule | LoadedCorrelation] = [*ruleset.rules, *ruleset.correlations]
    for loaded in everything:
        if wanted in (loaded.id, getattr(loaded.rule, "name", None)):
            return loaded
    lowered = wanted.lower()
    found = [r for r in everything if lowered in str(r.rule.title).lower()]
    return found[0] if len(found) == 1 else None


def _outermost(ruleset: RuleSet) -> str:
    """The rule a file is about: its correlation that no other one references, else its first rule."""
    referenced = {id(ref.rule) for c in ruleset.correlations for ref in c.rule.rules or [] if hasattr(ref, "rule")}
    for corr in ruleset.correlations:
        if id(corr.rule) not in referenced:
            return corr.id
    return ruleset.rules[0].id


@rules_app.command("test")
def test_command(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="rule id, name, unique title part, or a rule file to try")],
    since: Annotated[str, typer.Option(help="how far back to replay (30m, 12h, 7d...)")] = "7d",
    limit: Annotated[int | None, typer.Option(help="replay at most this many events")] = None,
    examples: Annotated[int, typer.Option(help="matching events to show")] = 10,
    rules: RulesOption = None,
    fmt: FormatOption = "table",
) -> None:
    """Replay stored events through one rule: matches, and the rule's fields that never occur.

    A rule that can never fire is flagged before it is trusted.
    """
    from guetteur.cli.commands_store import owner_database
    from guetteur.detect.rules import load_rules

    _check_format(fmt)
    try:
        window = parse_duration(since)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    candidate = Path(rule)
    extra = list(rules or [])
    if candidate.is_file():
        extra.append(candidate)
    ruleset = _load(ctx, extra)
    if candidate.is_file():
        own = load_rules([candidate])
        if own.errors:
            for error in own.errors:
                console.print(f"[red]error[/red] {error.file}: {error.reason}")
            raise typer.Exit(1)
        target = _find(ruleset, _outermost(own)) if own.rules or own.correlations else None
    else:
        target = _find(ruleset, rule)
    if target is None:
        console.print(f"[red]no single rule matches {rule!r}[/red] (try `guetteur rules list --search`)")
        raise typer.Exit(1)

    import psycopg

    from guetteur.detect.replay import replay_rule
    from guetteur.store.detection import stored_events

    settings = settings_from(ctx)
    start = datetime.now(UTC) - window
    with owner_database(settings) as dsn, psycopg.connect(dsn) as conn:
        report = replay_rule(ruleset, target, stored_events(conn, start, limit=limit), examples=examples)
    if fmt == "json":
        _emit_json(report.to_dict())
        return
    out.print(f"[bold]{report.title}[/bold] ({report.rule_id})", highlight=False)
    out.print(
        f"events replayed since {start.isoformat(timespec='seconds')}: {report.events}", highlight=False
    )
    for route, count in report.in_logsource.items():
        flag = "" if count else "  [red]no stored event of this log source[/red]"
        out.print(f"  log source {route}: {count} events{flag}", highlight=False)
    out.print(f"matches: [bold]{report.match_count}[/bold]")
    if report.matches:
        table = Table("time", "event id", "host", "group", "events")
        for match in report.matches:
            table.add_row(
                str(match["time"] or ""),
                str(match["event_id"] or ""),
                str(match["host"] or ""),
                ""
                if match["group_key"] is None
                else ", ".join(f"{k}={v}" for k, v in match["group_key"].items()),
                str(match["events"]),
            )
        out.print(table)
    table = Table("rule", "field", "looked up at", "events with it")
    for presence in report.fields:
        seen = str(presence.seen) if presence.seen else "[red]never[/red]"
        table.add_row(
            presence.rule_id[:13], presence.field, ", ".join(".".join(p) for p in presence.paths[:3]), seen
        )
    out.print(table)
    never = report.to_dict()["never_present"]
    if never:
        console.print(
            f"[yellow]fields never present in stored events:[/yellow] {', '.join(never)} — check the rule can fire"
        )


# ---------------------------------------------------------------------------- coverage


@rules_app.command("coverage")
def coverage_command(
    ctx: typer.Context,
    rules: RulesOption = None,
    include_disabled: Annotated[
        bool, typer.Option("--include-disabled", help="count disabled rules too")
    ] = False,
    fmt: FormatOption = "table",
) -> None:
    """ATT&CK coverage: per tactic, the techniques the enabled rules cover."""
    _check_format(fmt)
    ruleset = _load(ctx, rules)
    cover = attack.coverage(ruleset, include_disabled=include_disabled)
    matrix = attack.coverage_matrix(cover)
    if fmt == "json":
        _emit_json({"attack_version": attack.catalogue().version, "coverage": cover, **matrix.to_dict()})
        return
    table = Table(title=f"MITRE ATT&CK {attack.catalogue().version} coverage")
    table.add_column("tactic")
    table.add_column("covered", justify="right")
    table.add_column("rules", justify="right")
    table.add_column("techniques", overflow="fold")
    for column in matrix.columns:
        rules_count = len({r for cell in column.cells for r in cell.rules})
        names = ", ".join(f"{c.technique} {c.name} ({len(c.rules)})" for c in column.cells)
        table.add_row(
            column.tactic.name, f"{column.covered}/{column.techniques_total}", str(rules_count), names
        )
    out.print(table)
    covered = {c.technique for col in matrix.columns for c in col.cells}
    console.print(f"{len(covered)} techniques covered by {matrix.rules_total} rules")
    if matrix.unknown:
        unknown = ", ".join(f"{k} ({len(v)})" for k, v in matrix.unknown.items())
        console.print(f"[yellow]technique ids not in ATT&CK {attack.catalogue().version}:[/yellow] {unknown}")


# ---------------------------------------------------------------------------- enable / disable


def _switch(ctx: typer.Context, rule: str, enabled: bool) -> None:
    from guetteur.cli.commands_store import owner_database
    from guetteur.config import detect_settings
    from guetteur.detect.local_rules import LocalRules
    from guetteur.store.audit import AuditEntry, append_sync

    settings = settings_from(ctx)
    detect = detect_settings(settings)
    assert detect.managed_dir is not None
    ruleset = _load(ctx, None)
    found = _find(ruleset, rule)
    first_seen = [r for r in ruleset.first_seen if r.id == rule]
    if found is None and not first_seen:
        console.print(f"[red]no single rule matches {rule!r}[/red] (try `guetteur rules list --search`)")
        raise typer.Exit(1)
    rule_id = found.id if found is not None else first_seen[0].id
    LocalRules(detect.managed_dir).switch(rule_id, enabled)
    with owner_database(settings) as dsn:
        append_sync(dsn, AuditEntry("cli", "rule.enable" if enabled else "rule.disable", "success", target=rule_id))
    state = "on" if enabled else "off"
    console.print(f"rule {rule_id} turned {state}; a running server applies it within "
                  f"{detect.reload_interval:g} s (detect.reload_interval)")


@rules_app.command("enable")
def enable_command(ctx: typer.Context, rule: Annotated[str, typer.Argument(help="rule id, name or unique title part")]
                   ) -> None:
    """Turn a rule on (kept in data_dir/rules/switches.json; overrides detect.disabled_rules)."""
    _switch(ctx, rule, True)


@rules_app.command("disable")
def disable_command(ctx: typer.Context, rule: Annotated[str, typer.Argument(help="rule id, name or unique title part")]
                    ) -> None:
    """Turn a rule off: no worker evaluates it and no correlation runs on it (audited)."""
    _switch(ctx, rule, False)


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
