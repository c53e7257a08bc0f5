"""Loading Sigma rules: files and folders -> a validated `RuleSet`, with every error collected.

Sources, in order (a later rule with the same `id` replaces an earlier one, so a user folder
can override a built-in rule): the built-in pack (`builtin_rules_dir()`), the folders in
`settings.detect.rules_dirs`, then any paths given (`guetteur hunt --rules DIR`). Rules from
the database will come through `load_rule_texts`.

Parsing and validation are pySigma's (`SigmaCollection.from_yaml(..., collect_errors=True)`).
A bad file never stops the load: each problem becomes a `RuleError(file, reason)` in
`RuleSet.errors`, and the rest loads. pySigma's ATT&CK/D3FEND tag validators would download
MITRE data, so `validate_rules` runs only the validators that need no data (the bundled
catalogue in `detect/attack.py` checks ATT&CK tags instead).

Documents with `type: first_seen` are our first-seen rules, not Sigma: they are routed to
`stats/first_seen_rule.py` (`RuleSet.first_seen`), with their errors collected the same way.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from guetteur.stats.first_seen_rule import FirstSeenRule, FirstSeenRuleError, is_first_seen

log = logging.getLogger(__name__)

RULE_SUFFIXES = (".yml", ".yaml")
MAX_RULE_BYTES = 1_048_576  # a Sigma rule is a few KB; refuse anything absurd before YAML sees it


class RuleError(NamedTuple):
    """One rule that could not be used: the file (or text name) and why."""

    file: str
    reason: str


@dataclass(slots=True)
class LoadedRule:
    """A parsed Sigma rule and where it came from. `enabled` is the operator's switch."""

    rule: SigmaRule
    source: str
    enabled: bool = True

    @property
    def id(self) -> str:
        return rule_key(self.rule, self.source)


@dataclass(slots=True)
class LoadedCorrelation:
    """A parsed Sigma correlation rule (references resolved when the base rules are loaded)."""

    rule: SigmaCorrelationRule
    source: str
    enabled: bool = True

    @property
    def id(self) -> str:
        return rule_key(self.rule, self.source)


@dataclass(slots=True)
class LoadedFilter:
    """A Sigma global filter (sigma-filters-specification.md)."""

    filter: SigmaFilter
    source: str

    @property
    def id(self) -> str:
        return str(self.filter.id) if self.filter.id else f"{self.source}:{self.filter.title}"


@dataclass(slots=True)
class RuleSet:
    """Everything loaded from a set of rule sources.

    rules:        stateless Sigma rules (detection rules), each with its source file.
    correlations: Sigma correlation rules; `rule.rules[i].rule` is resolved to the base
                  `SigmaRule` when it was loaded in the same set.
    filters:      Sigma global filters (applied by the detector as exceptions).
    errors:       every rule/file that could not be used, with the reason.
    first_seen:   our first-seen rules (`type: first_seen`), run by the statistical detectors.
    replaced:     rule id -> the source of the rule a later one with the same id replaced
                  (a local override of a built-in rule).
    """

    rules: list[LoadedRule] = field(default_factory=list)
    correlations: list[LoadedCorrelation] = field(default_factory=list)
    filters: list[LoadedFilter] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    first_seen: list[FirstSeenRule] = field(default_factory=list)
    replaced: dict[str, str] = field(default_factory=dict)

    def by_id(self) -> dict[str, LoadedRule]:
        return {r.id: r for r in self.rules}

    def collection(self) -> SigmaCollection:
        """All rules and correlations as one pySigma collection (for pySigma tooling)."""
        items: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [r.rule for r in self.rules]
        items.extend(c.rule for c in self.correlations)
        return SigmaCollection(items, resolve_references=False)


def rule_key(rule: SigmaRule | SigmaCorrelationRule, source: str) -> str:
    """The id a rule is known by: its Sigma `id`, else its `name`, else file + title."""
    if rule.id is not None:
        return str(rule.id)
    if rule.name:
        return str(rule.name)
    return f"{source}:{rule.title}"


def builtin_rules_dir() -> Path | None:
    """The built-in rule pack folder, or None when it cannot be found.

    Looked up, first found wins: `$GUETTEUR_RULES_DIR`; `guetteur/rules` inside the installed
    package (a wheel that ships the pack there); `<prefix>/share/guetteur/rules` (data files);
    `rules/` at the root of a source checkout (editable installs).
    """
    env = os.environ.get("GUETTEUR_RULES_DIR")
    candidates: list[Path] = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates.append(here.parents[1] / "rules")
    candidates.append(Path(sys.prefix) / "share" / "guetteur" / "rules")
    candidates.append(here.parents[3] / "rules")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Rule files under each path (a file, or a folder searched recursively), sorted per folder."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
        else:
            yield path


_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _error_text(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def parse_rule_text(text: str, source: str, into: RuleSet) -> None:
    """Parse one YAML text (one or several documents) and add what it holds to `into`."""
    try:
        # pySigma's `from_yaml` is `yaml.safe_load_all` + `from_dicts`; libyaml's C loader
        # builds the same documents (same safe constructors) about eight times faster.
        documents = list(yaml.load_all(text, Loader=_YAML_LOADER))
        documents = _route_first_seen(documents, source, into)
        collection = SigmaCollection.from_dicts(
            documents, collect_errors=True, collect_filters=True, resolve_references=False
        )
    except SigmaError as exc:
        into.errors.append(RuleError(source, _error_text(exc)))
        return
    except Exception as exc:  # YAML scanner errors, recursion in hostile files...
        into.errors.append(RuleError(source, f"not a Sigma rule file: {_error_text(exc)}"))
        return
    for error in collection.errors:
        into.errors.append(RuleError(source, _error_text(error)))
    for item in collection.rules:
        if item.errors:
            for error in item.errors:
                into.errors.append(RuleError(source, _error_text(error)))
            continue
        if isinstance(item, SigmaCorrelationRule):
            into.correlations.append(LoadedCorrelation(item, source))
        elif isinstance(item, SigmaRule):
            into.rules.append(LoadedRule(item, source))
    for sigma_filter in collection.filters:
        if sigma_filter.errors:
            for error in sigma_filter.errors:
                into.errors.append(RuleError(source, _error_text(error)))
            continue
        into.filters.append(LoadedFilter(sigma_filter, source))


def _route_first_seen(documents: list[Any], source: str, into: RuleSet) -> list[Any]:
    """Take our first-seen rules (`type: first_seen`, `stats/first_seen_rule.py`) out of the
    documents; the rest is Sigma's."""
    sigma: list[Any] = []
    for document in documents:
        if not is_first_seen(document):
            sigma.append(document)
            continue
        try:
            into.first_seen.append(FirstSeenRule.from_dict(document, source))
        except FirstSeenRuleError as exc:
            into.errors.append(RuleError(source, _error_text(exc)))
    return sigma


def load_rule_texts(texts: Iterable[tuple[str, str]], into: RuleSet | None = None) -> RuleSet:
    """Load rules from (name, YAML text) pairs (rules kept in the database, uploads)."""
    ruleset = into if into is not None else RuleSet()
    for name, text in texts:
        parse_rule_text(text, name, ruleset)
    return _finish(ruleset)


def load_rules(paths: list[Path]) -> RuleSet:
    """Load every rule file under `paths`; never raises for a bad rule (see `RuleSet.errors`)."""
    ruleset = RuleSet()
    for path in iter_rule_files(paths):
        source = str(path)
        try:
            if path.stat().st_size > MAX_RULE_BYTES:
                ruleset.errors.append(RuleError(source, f"file larger than {MAX_RULE_BYTES} bytes"))
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            ruleset.errors.append(RuleError(source, f"unreadable: {_error_text(exc)}"))
            continue
        parse_rule_text(text, source, ruleset)
    return _finish(ruleset)


def default_rule_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """The built-in pack (when found) followed by `extra` folders."""
    paths: list[Path] = []
    builtin = builtin_rules_dir()
    if builtin is not None:
        paths.append(builtin)
    paths.extend(extra)
    return paths


def _finish(ruleset: RuleSet) -> RuleSet:
    """De-duplicate ids (the later rule wins) and resolve correlation references."""
    seen: dict[str, int] = {}
    for index, loaded in enumerate(ruleset.rules):
        key = loaded.id
        if key in seen:
            earlier = ruleset.rules[seen[key]]
            log.info("rule %s in %s replaces the one in %s", key, loaded.source, earlier.source)
            ruleset.replaced.setdefault(key, earlier.source)
        seen[key] = index
    ruleset.rules = [r for i, r in enumerate(ruleset.rules) if seen[r.id] == i]
    if ruleset.first_seen:  # the later rule with an id wins, as for Sigma rules
        ruleset.first_seen = list({r.id: r for r in ruleset.first_seen}.values())
    if ruleset.correlations:
        items: list[SigmaRule | SigmaCorrelationRule | SigmaFilter] = [r.rule for r in ruleset.rules]
        items.extend(c.rule for c in ruleset.correlations)
        collection = SigmaCollection(items, resolve_references=False)
        kept: list[LoadedCorrelation] = []
        for corr in ruleset.correlations:
            try:
                corr.rule.resolve_rule_references(collection)
            except SigmaError as exc:
                ruleset.errors.append(RuleError(corr.source, _error_text(exc)))
                continue
            kept.append(corr)
        latest: dict[str, LoadedCorrelation] = {}  # the later correlation with an id wins too (an override)
        for corr in kept:
            earlier_corr = latest.pop(corr.id, None)
            if earlier_corr is not None:
                ruleset.replaced.setdefault(corr.id, earlier_corr.source)
            latest[corr.id] = corr
        ruleset.correlations = list(latest.values())
    return ruleset


# pySigma validators that need no downloaded data and flag real defects (not style).
_VALIDATORS = (
    "all_without_or",
    "dangling_detection",
    "duplicate_detection",
    "duplicate_references",
    "duplicate_tag",
    "invalid_modifier_combinations",
    "invalid_related_type",
    "number_as_string",
    "tag_format",
    "wildcards_instead_of_modifiers",
    "escaped_wildcard",
    "control_character",
    "identifier_uniqueness",
)


def validate_rules(ruleset: RuleSet) -> list[RuleError]:
    """Findings of pySigma's offline validators (warnings: the rules still load and run)."""
    from sigma.plugins import InstalledSigmaPlugins
    from sigma.validation import SigmaValidator

    available = InstalledSigmaPlugins.autodiscover(include_backends=False, include_pipelines=False).validators
    chosen = [available[name] for name in _VALIDATORS if name in available]
    validator = SigmaValidator(chosen)  # type: ignore[arg-type]
    findings: list[RuleError] = []
    for loaded in ruleset.rules:
        for issue in validator.validate_rule(loaded.rule):
            findings.append(RuleError(loaded.source, f"{type(issue).__name__}: {issue.description}"))
    for issue in validator.finalize():
        sources = ", ".join(str(r.source) for r in issue.rules if getattr(r, "source", None)) or "?"
        findings.append(RuleError(sources, f"{type(issue).__name__}: {issue.description}"))
    return findings
