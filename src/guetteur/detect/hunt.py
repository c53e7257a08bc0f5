"""`guetteur hunt`: offline threat hunting over log files, no server and no database.

Files (EVTX, any format a parser knows, folders recursively) are read with
`collect.files.iter_file_records`, parsed in batches with `parse.parse_batch`, run through
the `Detector` and, when correlation rules are loaded, the `CorrelationEngine`. `run_hunt`
returns what it saw (`HuntResult`); the command and its rendering (typer, rich) live in
`cli/commands_detect.py` and `cli/hunt_report.py`, so this module needs neither.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guetteur.detect.engine import Detector
from guetteur.detect.hits import Hit
from guetteur.detect.rules import RuleError, RuleSet
from guetteur.model import Event, RawRecord

log = logging.getLogger(__name__)

BATCH = 2_000


@dataclass(frozen=True, slots=True)
class RuleSeen:
    """A rule as its hits described it: every hit carries its rule's title and level, a
    correlation's too (whether or not it alerts), so the summary needs no other look-up."""

    title: str
    level: str
    correlation: str | None = None  # the correlation type, for a correlation rule
    alert: bool = True  # False: a step feeding a correlation, not an alert by itself


@dataclass(slots=True)
class HuntResult:
    """What a hunt saw: counts, the hits, and rule problems.

    hits:    the alerting hits, in the order they happened.
    by_rule: hits per rule id, alerting or not (steps of correlations count too).
    rules:   per rule id in `by_rule`, its title, level and kind (`RuleSeen`).
    """

    events: int = 0
    hits: list[Hit] = field(default_factory=list)
    rule_errors: list[RuleError] = field(default_factory=list)
    rules_loaded: int = 0
    compile_seconds: float = 0.0  # compiling the rules
    seconds: float = 0.0  # reading, parsing and matching the files (after compiling)
    by_rule: Counter[str] = field(default_factory=Counter)
    rules: dict[str, RuleSeen] = field(default_factory=dict)


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
        if hit.rule_id not in result.rules:
            result.rules[hit.rule_id] = RuleSeen(hit.rule_title or hit.rule_id, hit.level, hit.correlation, hit.alert)
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
