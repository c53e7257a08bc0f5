"""Commands of the detect area: `guetteur hunt` (this module) and `guetteur rules ...`.

`register(app)` is what `guetteur.cli` calls; it registers both parts. The correlation/rules
helper adds its commands in `register_rules(app)` (here or in `cli/commands_rules.py`).
`hunt` runs `detect.hunt.run_hunt` and shows its result with `cli/hunt_report.py`; both are
imported when the command runs, so `guetteur --help` does not load pySigma.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer


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
    import orjson
    from rich.console import Console

    from guetteur.cli.common import settings_from
    from guetteur.cli.hunt_report import hit_block, print_rule_errors, print_summary
    from guetteur.config import detect_settings
    from guetteur.detect.hits import LEVELS, Hit
    from guetteur.detect.hunt import run_hunt
    from guetteur.detect.rules import default_rule_paths, load_rules

    if output not in ("table", "json"):
        raise typer.BadParameter("--format must be table or json")
    if min_level not in LEVELS:
        raise typer.BadParameter(f"--min-level must be one of {', '.join(LEVELS)}")
    settings = settings_from(ctx)
    err = Console(stderr=True)
    out = Console(highlight=False)
    missing = [p for p in paths if not p.exists()]
    if missing:
        err.print(f"[red]not found:[/red] {', '.join(map(str, missing))}")
        raise typer.Exit(2)
    extra = [*detect_settings(settings).rule_folders(), *(rules or [])]
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
        out.print(hit_block(hit))

    if err.is_terminal:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                            transient=True)
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

    print_rule_errors(err, result.rule_errors)
    print_summary(out if output == "table" else err, result)
    rate = result.events / result.seconds if result.seconds else 0.0
    err.print(
        f"{result.events:,} events, {shown:,} hits shown ({len(result.hits):,} total) "
        f"in {result.seconds:.2f}s ({rate:,.0f} events/s read, parsed and matched; "
        f"rules compiled in {result.compile_seconds:.1f}s)"
    )


def register_hunt(app: typer.Typer) -> None:
    """`guetteur hunt PATH... [--rules DIR]... [--format table|json]`."""
    app.command(
        "hunt",
        help="Offline threat hunting: run the Sigma rules over log files (EVTX, any parsed format, folders).",
    )(hunt_command)


def register_rules(app: typer.Typer) -> None:
    """`guetteur rules ...` subcommands (owned by the correlation/rules helper)."""
    try:
        from guetteur.cli import commands_rules
    except ImportError:
        return
    commands_rules.register(app)


def register(app: typer.Typer) -> None:
    register_hunt(app)
    register_rules(app)
