"""The rules as the API sees them: `RuleLibrary`, the effective rule set read from the same
folders as the pipeline (built-in pack, `detect.rules_dirs`, the local rules written through
the API), reloaded when a rule file or the switches file changes, plus where each rule is
written (`LocalRules`).

The pipeline's workers and correlation stage load the same files on their own (each within
`detect.reload_interval`); the library is what the API answers from, so a rule saved through
the API is visible in its answers at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from guetteur.config import DetectSettings, Settings, detect_settings
from guetteur.detect.local_rules import LocalRules, disabled_rules
from guetteur.detect.rule_catalogue import RuleCatalogue
from guetteur.detect.rules import RuleSet, builtin_rules_dir
from guetteur.pipeline.detection import RuleWatcher, load_ruleset

RESCAN_SECONDS = 0.5  # a stat of every rule file at most this often


@dataclass(frozen=True, slots=True)
class Located:
    """One loaded rule (detection, correlation or first-seen) and the file that holds it."""

    kind: str  # "rule", "correlation" or "first_seen"
    rule: Any  # LoadedRule, LoadedCorrelation or FirstSeenRule
    path: Path


class RuleLibrary:
    """The effective rule set of the API process (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.detect: DetectSettings = detect_settings(settings)
        assert self.detect.managed_dir is not None  # detect_settings fills it
        self.local = LocalRules(self.detect.managed_dir)
        self.builtin = builtin_rules_dir()
        self._watcher = RuleWatcher.of(self.detect, RESCAN_SECONDS)
        self._lock = asyncio.Lock()
        self._ruleset: RuleSet | None = None
        self._catalogue = RuleCatalogue()
        self._index: dict[str, Located] = {}
        self.tests = asyncio.Semaphore(2)  # rule replays running at once

    def invalidate(self) -> None:
        """Reload at the next use (after a write through the API)."""
        self._ruleset = None

    async def ruleset(self) -> RuleSet:
        async with self._lock:
            if self._ruleset is None or self._watcher.changed():
                watcher = RuleWatcher.of(self.detect, RESCAN_SECONDS)  # before the read: no change is missed
                self._ruleset = await asyncio.to_thread(load_ruleset, self.detect.rule_folders())
                self._watcher = watcher
                self._catalogue = RuleCatalogue.from_ruleset(self._ruleset, self.disabled())
                self._index = self._build_index(self._ruleset)
            return self._ruleset

    async def catalogue(self) -> RuleCatalogue:
        await self.ruleset()
        return self._catalogue

    async def find(self, rule_id: str) -> Located | None:
        await self.ruleset()
        return self._index.get(rule_id)

    def disabled(self) -> set[str]:
        return disabled_rules(self.detect.disabled_rules, self.detect.switches_file())

    @staticmethod
    def _build_index(ruleset: RuleSet) -> dict[str, Located]:
        index: dict[str, Located] = {}
        for rule in ruleset.first_seen:
            index[rule.id] = Located("first_seen", rule, Path(rule.source))
        for corr in ruleset.correlations:
            index[corr.id] = Located("correlation", corr, Path(corr.source))
        for loaded in ruleset.rules:
            index[loaded.id] = Located("rule", loaded, Path(loaded.source))
        return index

    def origin(self, path: Path) -> str:
        """`local` (written through the API), `builtin` (the pack) or `folder` (`detect.rules_dirs`)."""
        if path.parent == self.local.local_dir:
            return "local"
        if self.builtin is not None and path.is_relative_to(self.builtin):
            return "builtin"
        return "folder"


def get_library(request: HTTPConnection) -> RuleLibrary:
    library: RuleLibrary | None = getattr(request.app.state, "rule_library", None)
    if library is None:
        library = request.app.state.rule_library = RuleLibrary(request.app.state.guetteur.settings)
    return library
