"""Helpers shared by the command modules."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from guetteur.config import Settings, load_settings

console = Console(stderr=True)


def settings_from(ctx: typer.Context) -> Settings:
    """The validated settings for this invocation; a clear message and exit 2 when invalid."""
    path = (ctx.obj or {}).get("config") if ctx.obj else None
    try:
        return load_settings(path)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        console.print(f"[red]invalid configuration:[/red] {exc}")
        sys.exit(2)
