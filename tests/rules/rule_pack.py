"""The built-in rule pack as test data: its files, their test cases, and how a case is run.

A rule file `rules/<platform>/<tactic>_<what>.yml` holds one Sigma rule, or a correlation and
the base rules it references (multi-document YAML, base rules first, the alerting rule last),
or one first-seen rule of ours (`type: first_seen`, docs/statistics.md).
Its tests are `<tactic>_<what>.tests` beside it (YAML; the suffix keeps rule loaders from
reading it as a rule):

    received: 2026-11-21T12:00:00Z   # optional: reception time (RFC 3164 year inference)
    must_fire:
      - name: what the case shows
        hint: linux_auth             # optional parser name; default: auto-detection
        count: 1                     # hits of the rule under test (default 1)
        rule: <id or name>           # optional: another rule of the file (default: the last)
        lines: |
          <raw record, one per line, as it arrives on the wire>
    must_not_fire:
      - name: ...
        lines: |
          ...

A case is run the way the live pipeline runs: the lines are parsed in one batch with the
real parsers (`parse_batch`, which merges auditd records), every event goes through the
real `Detector` and `CorrelationEngine`, and the engine is flushed at the end.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from guetteur.demo import SCENARIOS, Sim, parser_hint
from guetteur.demo.step import HTTP, Step
from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.engine import Detector
from guetteur.detect.hits import Hit
from guetteur.detect.rules import RuleSet
from guetteur.model import Event, RawRecord
from guetteur.parse import flush_pending, parse_batch
from guetteur.stats.batch import collect_batch
from guetteur.stats.first_seen import FirstSeenState

PACK = Path(__file__).resolve().parents[2] / "rules"
PLATFORMS = ("linux", "windows", "web", "application", "database", "network")
TEST_SUFFIX = ".tests"
# Reception time of the test lines when a test file does not say: RFC 3164 stamps
# ("Nov 21 08:40:01") get their year from it.
DEFAULT_RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()
LATENESS = 60.0  # the live default (settings.detect.correlation_lateness)


@dataclass(slots=True)
class Case:
    """One test case of a rule file."""

    name: str
    lines: list[str]
    hint: str | None
    count: int
    rule: str | None
    received: float


@dataclass(slots=True)
class RuleFile:
    """A rule file of the pack, its YAML documents, and its test cases."""

    path: Path
    documents: list[dict[str, Any]]
    must_fire: list[Case] = field(default_factory=list)
    must_not_fire: list[Case] = field(default_factory=list)
    tests_found: bool = False

    @property
    def main(self) -> dict[str, Any]:
        """The alerting rule: the last document (base rules of a correlation come first)."""
        return self.documents[-1]

    @property
    def label(self) -> str:
        return str(self.path.relative_to(PACK))

    def rule_key(self, ref: str | None = None) -> str:
        """The id hits carry for `ref` (a rule id or name of this file; default: the main rule)."""
        if ref is None:
            return str(self.main["id"])
        for doc in self.documents:
            if ref in (doc.get("id"), doc.get("name")):
                return str(doc["id"])
        raise KeyError(f"{self.label}: no rule {ref!r} in this file")


def _received(value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _cases(items: Any, received: float, where: str, positive: bool) -> list[Case]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValueError(f"{where}: expected a list of cases")
    cases = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("lines"), str):
            raise ValueError(f"{where}[{i}]: a case needs `lines` (a block of raw records)")
        lines = [line for line in item["lines"].splitlines() if line.strip()]
        cases.append(Case(
            name=str(item.get("name") or f"case {i}"),
            lines=lines,
            hint=item.get("hint"),
            count=int(item.get("count", 1)) if positive else 0,
            rule=item.get("rule"),
            received=_received(item.get("received"), received),
        ))
    return cases


def load_rule_file(path: Path) -> RuleFile:
    """Read one rule file and its `.tests` file (missing tests leave the lists empty)."""
    documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    rule_file = RuleFile(path, documents)
    tests = path.with_suffix(TEST_SUFFIX)
    if tests.is_file():
        data = yaml.safe_load(tests.read_text(encoding="utf-8")) or {}
        received = _received(data.get("received"), DEFAULT_RECEIVED)
        rule_file.must_fire = _cases(data.get("must_fire"), received, f"{tests.name}: must_fire", True)
        rule_file.must_not_fire = _cases(data.get("must_not_fire"), received, f"{tests.name}: must_not_fire", False)
        rule_file.tests_found = True
    return rule_file


def pack_files(root: Path = PACK) -> list[RuleFile]:
    """Every rule file of the pack, sorted by path."""
    return [load_rule_file(p) for p in sorted(root.rglob("*.yml"))]


def parse_lines(lines: Iterable[str], received: float, hint: str | None = None,
                hints: Iterable[str | None] | None = None) -> list[Event]:
    """Parse raw lines as the pipeline does (one batch; pending auditd groups flushed)."""
    line_list = list(lines)
    hint_list = list(hints) if hints is not None else [hint] * len(line_list)
    records = [RawRecord(line, received, "test", h) for line, h in zip(line_list, hint_list, strict=True)]
    flush_pending()  # the auditd assembler keeps its last group across batches: start clean
    return parse_batch(records).events + flush_pending().events


def detect(detector: Detector, ruleset: RuleSet, events: Iterable[Event], clock: float) -> list[Hit]:
    """Every hit (stateless, correlation and first-seen, alerting or not) of the pack on
    `events`, in order. First-seen rules see each event as a batch of its own, through the
    worker's collector and the main process's state, as the pipeline runs them."""
    engine = CorrelationEngine(ruleset.correlations, lateness=LATENESS, clock=lambda: clock)
    first_seen = [FirstSeenState(rule, max_values=100_000) for rule in ruleset.first_seen]
    hits: list[Hit] = []
    for event in events:
        base = detector.match(event)
        hits.extend(base)
        hits.extend(engine.process(event, base))
        if first_seen:
            found = collect_batch([event], [state.rule for state in first_seen]).first_seen
            for state in first_seen:
                hits.extend(state.observe(found.get(state.rule.id, {})))
    hits.extend(engine.flush())
    return hits


def run_case(detector: Detector, ruleset: RuleSet, case: Case) -> tuple[list[Event], Counter[str]]:
    """The parsed events of a case and the number of hits per rule id."""
    events = parse_lines(case.lines, case.received, case.hint)
    hits = detect(detector, ruleset, events, case.received)
    return events, Counter(h.rule_id for h in hits)


# --- demo scenarios ---------------------------------------------------------------------------

DEMO_NOW = 1_775_492_501.594  # 2026-04-06T16:21:41.594Z, the clock tests/demo use


def demo_steps(name: str, seed: int) -> list[Step]:
    """The lines of one demo scenario, generated without waiting (simulated time)."""
    sim = Sim(rng=random.Random(seed), clock=lambda: DEMO_NOW)
    return list(SCENARIOS[name].play(sim))


def demo_events(steps: list[Step]) -> list[Event]:
    """Parse demo steps with the hint the HTTP sender would give."""
    hints = [parser_hint(s.fmt) if s.transport == HTTP else None for s in steps]
    return parse_lines([s.line for s in steps], DEMO_NOW, hints=hints)
