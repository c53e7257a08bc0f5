"""`guetteur import` (files into the store) and `guetteur parse` (files to ECS on stdout)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from guetteur.cli.common import console, settings_from
from guetteur.config import MultilineSettings, Settings

SourceOption = Annotated[
    str | None, typer.Option("--source", "-s", help="parser name (default: auto-detect); see `guetteur parse --list`")
]


def _check_source(source: str | None) -> None:
    from guetteur.parse import PARSERS

    if source is not None and source not in PARSERS:
        console.print(f"[red]unknown source {source!r}[/red]; known: {', '.join(sorted(PARSERS))}")
        raise typer.Exit(2)


async def run_import(settings: Settings, paths: list[Path], hint: str | None, progress: bool,
                     multiline: MultilineSettings | None = None) -> dict[str, int]:
    """Import files through the real pipeline; returns the totals (read, parsed, unparsed, stored...).

    Correlations run over the imported events alone (their own windows, closed at the end).
    """
    from guetteur.collect.files import FileReader
    from guetteur.parse.context import configure
    from guetteur.pipeline.runtime import Pipeline
    from guetteur.store.database import app_dsn, resolve_dsn
    from guetteur.store.migrate import migrate
    from guetteur.store.pool import open_pool

    configure(settings.parse)
    reader = FileReader(paths, hint, source="import", max_record_bytes=settings.pipeline.max_record_bytes,
                        multiline=multiline)
    owner_dsn, embedded = await asyncio.to_thread(resolve_dsn, settings)
    try:
        await asyncio.to_thread(migrate, owner_dsn)
        dsn = app_dsn(owner_dsn)
        pool = await open_pool(dsn, max_size=2)
        # correlation windows of its own: an import never restores nor saves the live
        # server's ("main"), whose time and windows have nothing to do with the file's
        pipeline = Pipeline(settings, dsn, correlation_snapshot=None)
        await pipeline.start(pool)
        try:
            bar = Progress(TextColumn("[bold]importing"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                           console=console, disable=not (progress and console.is_terminal))
            with bar:
                task = bar.add_task("import", total=reader.total_bytes or None)
                for count, record in enumerate(reader, 1):
                    await pipeline.put(record)
                    if count % 2000 == 0:
                        bar.update(task, completed=reader.bytes_read)
                        await asyncio.sleep(0)
                bar.update(task, completed=reader.bytes_read)
        finally:
            await pipeline.stop()
            await pool.close()
        totals = pipeline.counters.totals()
        totals["errors"] = len(reader.errors)
        for error in reader.errors:
            console.print(f"[yellow]warning:[/yellow] {error}")
        return totals
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def register(app: typer.Typer) -> None:
    @app.command("import")
    def import_(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help="files or folders (recursive); .gz and .evtx supported")],
        source: SourceOption = None,
        multiline: Annotated[bool, typer.Option(
            "--multiline/--no-multiline",
            help="join continuation lines (tracebacks, stack traces, indented lines) into one record")] = True,
        first_line: Annotated[str | None, typer.Option(
            "--first-line", help="regex a record's first line matches; other lines continue it")] = None,
    ) -> None:
        """Import log files once into the store, with a progress bar and a summary."""
        _check_source(source)
        missing = [str(p) for p in paths if str(p) != "-" and not p.exists()]
        if missing:
            console.print(f"[red]not found:[/red] {', '.join(missing)}")
            raise typer.Exit(2)
        settings = settings_from(ctx)
        try:
            joining = MultilineSettings(enabled=multiline, first_line=first_line)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        totals = asyncio.run(run_import(settings, paths, source, progress=True, multiline=joining))
        table = Table(title="import summary")
        for column in ("read", "parsed", "unparsed", "stored", "merged", "truncated"):
            table.add_column(column, justify="right")
        table.add_row(*(str(totals[k]) for k in ("received", "parsed", "unparsed", "stored", "merged", "truncated")))
        console.print(table)
        if totals["received"] != totals["stored"] + totals["merged"]:
            console.print("[red]some records were not stored[/red]")
            raise typer.Exit(1)

    @app.command("parse")
    def parse(
        ctx: typer.Context,
        paths: Annotated[list[Path] | None, typer.Argument(help="files or folders, or - for stdin")] = None,
        source: SourceOption = None,
        list_parsers: Annotated[bool, typer.Option("--list", help="list the parser names and exit")] = False,
        explain: Annotated[bool, typer.Option(
            "--explain", help="say, for each record, which parser and which patterns matched and what each set")] = False,
        patterns: Annotated[list[Path] | None, typer.Option(
            "--patterns", help="also load these pattern files or folders (docs/extractors.md)")] = None,
    ) -> None:
        """Print one ECS document per line (NDJSON) for each record; stores nothing."""
        from guetteur.collect.files import FileReader
        from guetteur.parse import PARSERS, extract, flush_pending, parse_batch
        from guetteur.parse.context import configure

        if list_parsers:
            for name in sorted(PARSERS):
                typer.echo(f"{name}\t{PARSERS[name].family}")
            return
        _check_source(source)
        if not paths:
            console.print("[red]give at least one file (or - for stdin)[/red]")
            raise typer.Exit(2)
        settings = settings_from(ctx)
        settings.parse.patterns_dirs = [*settings.parse.patterns_dirs, *(patterns or ())]
        configure(settings.parse)
        for bad in extract.active().patterns.errors:
            console.print(f"[yellow]pattern not loaded:[/yellow] {bad.location}: {bad.message}")
        reader = FileReader(paths, source, source="import")
        out = sys.stdout.buffer
        batch = []
        for record in reader:
            batch.append(record)
            if len(batch) >= 1000:
                _write_batch(out, batch, explain, parse_batch)
                batch = []
        _write_batch(out, batch, explain, parse_batch)
        if not explain:
            for event in flush_pending().events:
                out.write(orjson.dumps(event) + b"\n")
        out.flush()
        for error in reader.errors:
            console.print(f"[yellow]warning:[/yellow] {error}")


def _write_batch(out: Any, batch: list[Any], explain: bool, parse_batch: Any) -> None:
    from guetteur.parse import extract

    if not explain:
        for event in parse_batch(batch).events:
            out.write(orjson.dumps(event) + b"\n")
        return
    for found in extract.explain(batch):
        out.write(explanation(found).encode("utf-8"))
        out.write(orjson.dumps(found.event) + b"\n")


def _values(fields: dict[str, Any]) -> str:
    return "\n".join(f"      {name} = {orjson.dumps(value).decode()}" for name, value in fields.items())


def explanation(found: Any) -> str:
    """The text `guetteur parse --explain` prints before a record's event."""
    original = found.event.get("event", {}).get("original", "")
    lines = [f"# record: {original[:200]}{'...' if len(original) > 200 else ''}",
             f"#   parser: {found.parser}"]
    if found.parser_fields:
        lines.append("#   it set:")
        lines.append(_values(found.parser_fields).replace("      ", "#     "))
    if not found.applied:
        lines.append("#   patterns: none matched")
    for applied in found.applied:
        lines.append(f"#   pattern: {applied.pattern} ({applied.file})")
        lines.append(_values(applied.fields).replace("      ", "#     "))
        for failed in applied.failed:
            lines.append(f"#     {failed}: conversion failed, not set")
    return "\n".join(lines) + "\n"
