"""How `guetteur hunt` shows what it found: one block per hit as it happens, rule problems,
and the per-rule summary table.

Everything is laid out for the console's width and stays readable at 80 columns: the level
sits in a fixed column, the title gets the rest of the line, and the long parts (timestamp,
host, rule id, ATT&CK tags) go on a dimmed line under it, wrapping under the title rather
than across the level column. The summary keeps three columns (hits, level, rule) and puts
the rule id under its title, so no column is squeezed into a word per line.
"""

from __future__ import annotations

import logging

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from guetteur.detect.hits import LEVELS, Hit
from guetteur.detect.hunt import HuntResult, RuleSeen
from guetteur.detect.rules import RuleError

LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}
LEVEL_WIDTH = max(len(level) for level in LEVELS)
SHOWN_ERRORS = 5  # rule problems listed without -v


def _rule_kind(seen: RuleSeen) -> str:
    """`event_count correlation`, `step of a correlation, no alert`, both, or nothing."""
    if seen.correlation:
        return f"{seen.correlation} correlation" + ("" if seen.alert else "; a step, no alert")
    return "" if seen.alert else "step of a correlation, no alert"


def hit_block(hit: Hit) -> RenderableType:
    """One hit: level and title on the first line, when, host, rule id, correlation type and
    ATT&CK tags dimmed under the title."""
    when = hit.event_times[-1] if hit.event_times else ""
    details = [str(when or "-"), f"host={hit.host or '-'}", f"rule={hit.rule_id}"]
    if hit.correlation:
        details.append(f"[{hit.correlation}]")
    attack = ", ".join(t.removeprefix("attack.") for t in hit.attack_tags)
    if attack:
        details.append(attack)
    text = Text(hit.rule_title or hit.rule_id, style="bold")
    text.append("\n")
    text.append("  ".join(details), style="dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=LEVEL_WIDTH, no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(Text(hit.level, style=LEVEL_STYLE.get(hit.level, "")), text)
    return grid


def print_rule_errors(err: Console, errors: list[RuleError]) -> None:
    """How many rules could not be used, and which (all of them with -v)."""
    if not errors:
        return
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    err.print(f"[yellow]{len(errors)} rule(s) could not be used[/yellow]" + ("" if verbose else " (-v lists them)"))
    for error in errors if verbose else errors[:SHOWN_ERRORS]:
        err.print(f"  {error.file}: {error.reason}", markup=False, highlight=False)


def summary_table(result: HuntResult) -> Table | None:
    """Hits per rule, busiest first (None when no rule matched). Every row has its rule's
    title: `HuntResult.rules` holds what each rule's hits said, correlations included."""
    if not result.by_rule:
        return None
    table = Table(title="hits per rule")
    table.add_column("hits", justify="right", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("rule", overflow="fold")
    for rule_id, count in result.by_rule.most_common():
        seen = result.rules.get(rule_id) or RuleSeen(rule_id, "medium")
        cell = Text(seen.title)
        cell.append("\n" + rule_id, style="dim")
        kind = _rule_kind(seen)
        if kind:
            cell.append("\n" + kind, style="dim")
        table.add_row(str(count), Text(seen.level, style=LEVEL_STYLE.get(seen.level, "")), cell)
    return table


def print_summary(console: Console, result: HuntResult) -> None:
    table = summary_table(result)
    console.print(table if table is not None else "no rule matched")
