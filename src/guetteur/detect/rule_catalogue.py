"""What each loaded rule is, for people: `RuleCatalogue`.

Workers compile and evaluate the rules; the main process, which answers the API, only needs
to say what they are: title, level, ATT&CK tags, log source, and for correlation rules their
type, the rules they correlate, group-by fields and timespan. `RuleCatalogue.from_ruleset`
reads that from a loaded `RuleSet` (pySigma objects, nothing compiled or evaluated), once
per load of the rule files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.rule import SigmaRule

from guetteur.detect.attack import parse_tags, tag_text
from guetteur.detect.rules import LoadedCorrelation, LoadedRule, RuleSet

DEFAULT_LEVEL = "medium"  # what the detector gives a rule without a level


@dataclass(frozen=True, slots=True)
class AttackInfo:
    """ATT&CK references among a rule's tags, upper-case ids (`T1110.001`, `TA0006`)."""

    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()  # tactic short names as in the tags (`credential-access`)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A Sigma detection rule as loaded. `alert` is False for a rule that only feeds
    correlations (referenced only by correlations without `generate: true`)."""

    id: str
    name: str | None
    title: str
    level: str
    status: str | None
    tags: tuple[str, ...]
    attack: AttackInfo
    logsource: dict[str, str]
    source: str  # the rule file, `folder/file.yml`
    enabled: bool
    alert: bool
    path: str = ""  # the rule file as loaded (full path)
    replaces: str | None = None  # the file of the rule with the same id this one replaced


@dataclass(frozen=True, slots=True)
class CorrelatedRule:
    """One rule a correlation refers to: the reference as written, and what it resolved to."""

    reference: str
    id: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class CorrelationInfo:
    """A Sigma correlation rule as loaded."""

    id: str
    name: str | None
    title: str
    level: str
    status: str | None
    tags: tuple[str, ...]
    attack: AttackInfo
    type: str
    rules: tuple[CorrelatedRule, ...]
    group_by: tuple[str, ...]
    timespan: str  # as written (`2m`)
    timespan_seconds: float
    condition: str  # `gte 5`, `field json.patient_id gte 20`, or the extended expression
    generate: bool
    source: str
    enabled: bool
    alert: bool
    path: str = ""
    replaces: str | None = None


@dataclass(slots=True)
class RuleCatalogue:
    """Every loaded rule and correlation by id (`LoadedRule.id`, `LoadedCorrelation.id`:
    the ids hits and the correlation engine's counters carry)."""

    rules: dict[str, RuleInfo] = field(default_factory=dict)
    correlations: dict[str, CorrelationInfo] = field(default_factory=dict)

    @classmethod
    def from_ruleset(cls, ruleset: RuleSet, disabled: Iterable[str] = ()) -> RuleCatalogue:
        off = set(disabled)
        silent = _correlation_steps(ruleset.correlations)
        catalogue = cls()
        for loaded in ruleset.rules:
            info = _rule_info(loaded, off, silent, ruleset.replaced)
            catalogue.rules[info.id] = info
        for correlation in ruleset.correlations:
            corr = _correlation_info(correlation, off, silent, ruleset.replaced)
            catalogue.correlations[corr.id] = corr
        return catalogue


def _names(rule: SigmaRule | SigmaCorrelationRule, rule_id: str) -> set[str]:
    return {rule_id, *([rule.name] if rule.name else [])}


def _correlation_steps(correlations: list[LoadedCorrelation]) -> set[str]:
    """Ids and names of rules referenced only by correlations that do not `generate` them
    (the detector's and the correlation engine's rule for `Hit.alert`)."""
    silent: set[str] = set()
    loud: set[str] = set()
    for corr in correlations:
        for ref in corr.rule.rules or ():
            names = {ref.reference}
            target = getattr(ref, "rule", None)
            if target is not None:
                names |= {str(n) for n in (target.id, target.name) if n}
            (loud if corr.rule.generate else silent).update(names)
    return silent - loud


def _short_source(path: str) -> str:
    """The rule file as `folder/file.yml`: enough to find it, without the server's layout."""
    return "/".join(PurePath(path).parts[-2:])


def _level(rule: SigmaRule | SigmaCorrelationRule) -> str:
    return rule.level.name.lower() if rule.level is not None else DEFAULT_LEVEL


def _status(rule: SigmaRule | SigmaCorrelationRule) -> str | None:
    return rule.status.name.lower() if rule.status is not None else None


def _attack(tags: tuple[str, ...]) -> AttackInfo:
    refs = parse_tags(tags)
    return AttackInfo(
        techniques=tuple(r.id for r in refs if r.kind == "technique"),
        tactics=tuple(r.tag.split(".", 1)[1] for r in refs if r.kind == "tactic"),
    )


def _replaced(replaced: dict[str, str], rule_id: str) -> str | None:
    earlier = replaced.get(rule_id)
    return None if earlier is None else _short_source(earlier)


def _rule_info(loaded: LoadedRule, off: set[str], silent: set[str], replaced: dict[str, str]) -> RuleInfo:
    rule = loaded.rule
    names = _names(rule, loaded.id)
    tags = tuple(tag_text(t) for t in rule.tags or ())
    source = rule.logsource
    return RuleInfo(
        id=loaded.id,
        name=rule.name,
        title=str(rule.title),
        level=_level(rule),
        status=_status(rule),
        tags=tags,
        attack=_attack(tags),
        logsource={k: str(v) for k, v in (("product", source.product), ("category", source.category),
                                          ("service", source.service)) if v},
        source=_short_source(loaded.source),
        enabled=loaded.enabled and not names & off,
        alert=not names & silent,
        path=loaded.source,
        replaces=_replaced(replaced, loaded.id),
    )


def _condition_text(rule: SigmaCorrelationRule) -> str:
    condition = rule.condition
    if isinstance(condition, SigmaCorrelationCondition):
        fields = condition.fieldref
        field_text = "" if not fields else "field " + (fields if isinstance(fields, str) else ", ".join(fields)) + " "
        percentile = "" if condition.percentile is None else f" (percentile {condition.percentile})"
        return f"{field_text}{condition.op.name.lower()} {condition.count}{percentile}"
    source = getattr(condition, "expression", None) or getattr(condition, "source", None)
    return str(source if source is not None else condition)


def _correlation_info(loaded: LoadedCorrelation, off: set[str], silent: set[str],
                      replaced: dict[str, str]) -> CorrelationInfo:
    rule = loaded.rule
    names = _names(rule, loaded.id)
    tags = tuple(tag_text(t) for t in rule.tags or ())
    refs = []
    for ref in rule.rules or ():
        target = getattr(ref, "rule", None)
        target_id = None if target is None else str(target.id or target.name or "") or None
        refs.append(CorrelatedRule(ref.reference, target_id, None if target is None else str(target.title)))
    timespan = rule.timespan
    return CorrelationInfo(
        id=loaded.id,
        name=rule.name,
        title=str(rule.title),
        level=_level(rule),
        status=_status(rule),
        tags=tags,
        attack=_attack(tags),
        type=str(getattr(rule.type, "name", rule.type)).lower(),
        rules=tuple(refs),
        group_by=tuple(rule.group_by or ()),
        timespan=str(getattr(timespan, "spec", timespan)),
        timespan_seconds=float(getattr(timespan, "seconds", 0) or 0),
        condition=_condition_text(rule),
        generate=bool(rule.generate),
        source=_short_source(loaded.source),
        enabled=loaded.enabled and not names & off,
        alert=not names & silent,
        path=loaded.source,
        replaces=_replaced(replaced, loaded.id),
    )
