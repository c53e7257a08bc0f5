"""`guetteur hunt`: offline threat hunting over log files, no server and no database.

Files (EVTX, any format a parser knows, folders recursively) are read with
`collect.files.iter_file_records`, parsed in batches with `parse.parse_batch`, run through
the `Detector` and, when correlation rules are loaded, the `CorrelationEngine`. Every hit is
printed (a table, or one JSON object per line with the event) followed by a per-rule summary.
Rules: the built-in pack, `settings.detect.rules_dirs`, then every `--rules DIR`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from guetteur.detect.engine import Detector
from guetteur.detect.hits import LEVELS, Hit
from guetteur.detect.rules import RuleError, RuleSet, default_rule_paths, load_rules
from guetteur.model import Event, RawRecord

log = logging.getLogger(__name__)

BATCH = 2_000
LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}


@dataclass(slots=True)
class HuntResult:
    """What a hunt saw: counts, the hits, and rule problems."""

    events: int = 0
    hits: list[Hit] = field(default_factory=list)
    rule_errors: list[RuleError] = field(default_factory=list)
    rules_loaded: int = 0
    compile_seconds: float = 0.0  # compiling the rules
    seconds: float = 0.0  # reading, parsing and matching the files (after compiling)
    by_rule: Counter[str] = field(default_factory=Counter)


def _records(paths: list[Path], hint: str | None) -> Iterator[RawRecord]:
    from guetteur.collect.files import iter_file_records

    return iter_file_records(paths, hint)


def _batches(records: Iterable[RawRecord], size: int) -> Iterator[list[Event]]:
    from guetteur.parse import parse_batch

    chunk: list[RawRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield parse_batch(chunk).events
            chunk = []
    if chunk:
        yield parse_batch(chunk).events


def _correlation_engine(ruleset: RuleSet, lateness: float) -> Any | None:
    """The correlation engine when the module exists and correlations are loaded."""
    if not ruleset.correlations:
        return None
    try:
        from guetteur.detect.correlation import CorrelationEngine
    except ImportError:
        return None
    try:
        return CorrelationEngine(ruleset.correlations, lateness=lateness)
    except TypeError:
        return CorrelationEngine(ruleset)  # type: ignore[call-arg,arg-type]
    except Exception:
        log.exception("correlation engine could not start; correlations are skipped")
        return None


def run_hunt(
    paths: list[Path],
    ruleset: RuleSet,
    *,
    hint: str | None = None,
    lateness: float = 1e9,
    on_hit: Callable[[Hit], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    placeholders: dict[str, list[str]] | None = None,
) -> HuntResult:
    """Run the rules over the files; calls `on_hit` per hit as it happens. The library entry
    point behind the command (tests and notebooks call it directly)."""
    started = time.perf_counter()
    detector = Detector(ruleset, placeholders=placeholders, timing=False)
    result = HuntResult(rule_errors=[*ruleset.errors, *detector.errors], rules_loaded=len(detector.rules))
    correlation = _correlation_engine(ruleset, lateness)
    result.compile_seconds = time.perf_counter() - started
    started = time.perf_counter()

    def emit(hit: Hit) -> None:
        result.by_rule[hit.rule_id] += 1
        if hit.alert:
            result.hits.append(hit)
            if on_hit is not None:
                on_hit(hit)

    for events in _batches(_records(paths, hint), BATCH):
        for event in events:
            hits = detector.match(event)
            for hit in hits:
                emit(hit)
            if correlation is not None:
                try:
                    for hit in correlation.process(event, hits):
                        emit(hit)
                except Exception:
                    log.exception("correlation engine failed; correlations are skipped from here on")
                    correlation = None
        result.events += len(events)
        if on_progress is not None:
            on_progress(result.events, len(result.hits))
    if correlation is not None and hasattr(correlation, "flush"):
        for hit in correlation.flush():
            emit(hit)
    result.seconds = time.perf_counter() - started
    return result


def _hit_row(hit: Hit) -> list[str]:
    attack = ", ".join(t.removeprefix("attack.") for t in hit.attack_tags)
    when = hit.event_times[-1] if hit.event_times else ""
    kind = f" [{hit.correlation}]" if hit.correlation else ""
    return [str(when or ""), hit.level, hit.rule_title + kind, attack, hit.host or "", hit.rule_id]


def hunt_command(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="log files or folders (searched recursively)")],
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", "-r", help="extra Sigma rule folder or file (repeatable)")
    ] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="table or json (one hit per line)")] = "table",
    hint: Annotated[str | None, typer.Option("--hint", help="parser name for every file (default: detect)")] = None,
    no_builtin: Annotated[bool, typer.Option("--no-builtin", help="skip the built-in rule pack")] = False,
    min_level: Annotated[
        str, typer.Option("--min-level", help="hide hits below this level (informational..critical)")
    ] = "informational",
) -> None:
    """Run Sigma rules over log files and print every hit and a per-rule summary."""
    from guetteur.cli.common import settings_from

    if output not in ("table", "json"):
        raise typer.BadParameter("--format must be table or json")
    if min_level not in LEVELS:
        raise typer.BadParameter(f"--min-level must be one of {', '.join(LEVELS)}")
    settings = settings_from(ctx)
    err = Console(stderr=True)
    out = Console(highlight=False, soft_wrap=True)
    missing = [p for p in paths if not p.exists()]
    if missing:
        err.print(f"[red]not found:[/red] {', '.join(map(str, missing))}")
        raise typer.Exit(2)
    extra = [*settings.detect.rules_dirs, *(rules or [])]
    rule_paths = extra if no_builtin else default_rule_paths(extra)
    if not rule_paths:
        err.print("[red]no rules:[/red] the built-in pack was not found and no --rules folder was given")
        raise typer.Exit(2)
    loading = time.perf_counter()
    ruleset = load_rules(rule_paths)
    err.print(
        f"loaded {len(ruleset.rules)} rules, {len(ruleset.correlations)} correlations "
        f"from {len(rule_paths)} source(s) in {time.perf_counter() - loading:.1f}s"
    )
    floor = LEVELS.index(min_level)
    shown = 0

    def on_hit(hit: Hit) -> None:
        nonlocal shown
        if hit.level in LEVELS and LEVELS.index(hit.level) < floor:
            return
        shown += 1
        if output == "json":
            sys.stdout.buffer.write(orjson.dumps(hit.to_dict(), default=str) + b"\n")
            return
        when, level, title, attack, host, rule_id = _hit_row(hit)
        style = LEVEL_STYLE.get(level, "")
        out.print(
            f"{when}  [{style}]{level:<13}[/{style}] {title}  "
            f"[dim]{attack}  host={host or '-'}  rule={rule_id}[/dim]"
        )

    interactive = err.is_terminal
    if interactive:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True)
        task = progress.add_task("hunting", total=None)
        with progress:
            result = run_hunt(
                paths,
                ruleset,
                hint=hint,
                on_hit=on_hit,
                on_progress=lambda n, h: progress.update(task, description=f"{n:,} events, {h:,} hits"),
            )
    else:
        result = run_hunt(paths, ruleset, hint=hint, on_hit=on_hit)

    _print_errors(err, result.rule_errors)
    _print_summary(out if output == "table" else err, result, detector_rules=ruleset)
    rate = result.events / result.seconds if result.seconds else 0.0
    err.print(
        f"{result.events:,} events, {shown:,} hits shown ({len(result.hits):,} total) "
        f"in {result.seconds:.2f}s ({rate:,.0f} events/s read, parsed and matched; "
        f"rules compiled in {result.compile_seconds:.1f}s)"
    )


def _print_errors(err: Console, errors: list[RuleError]) -> None:
    if not errors:
        return
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    err.print(f"[yellow]{len(errors)} rule(s) could not be used[/yellow]" + ("" if verbose else " (-v lists them)"))
    for error in errors if verbose else errors[:5]:
        err.print(f"  {error.file}: {error.reason}")


def _print_summary(console: Console, result: HuntResult, detector_rules: RuleSet) -> None:
    titles: dict[str, tuple[str, str]] = {}
    for loaded in detector_rules.rules:
        level = loaded.rule.level.name.lower() if loaded.rule.level else "medium"
        titles[loaded.id] = (loaded.rule.title, level)
    for hit in result.hits:
        titles.setdefault(hit.rule_id, (hit.rule_title, hit.level))
    if not result.by_rule:
        console.print("no rule matched")
        return
    table = Table(title="hits per rule", show_lines=False)
    table.add_column("hits", justify="right")
    table.add_column("level")
    table.add_column("rule")
    table.add_column("id", style="dim")
    for rule_id, count in result.by_rule.most_common():
        title, level = titles.get(rule_id, (rule_id, "?"))
        table.add_row(str(count), level, title, rule_id)
    console.print(table)
