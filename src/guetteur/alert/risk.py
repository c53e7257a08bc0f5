"""Risk scores: one per hit (`hit_risk`), one per entity over a sliding window (`entity_risk`).

Every factor is an **odds multiplier** on a probability-like score, the way Elastic applies
asset criticality to an entity's risk: a score `p` (0-1) has odds `p / (1 - p)`; multiplying the
odds by `m` and mapping back gives `m·p / (1 + p·(m - 1))`. It never leaves 0-100, a factor of 1
changes nothing, and factors compose in any order. `docs/risk.md` gives worked examples.

Hit score (0-100), `hit_risk`:

    p0   = LEVEL_SCORE[level] / 100          (Elastic's severity defaults: 21 / 47 / 73 / 99)
    odds = p0 / (1 - p0) · tactic · asset · (1 + anomaly / 100)
    risk = round_half_up(100 · odds / (1 + odds))

- `tactic`: the largest `TACTIC_WEIGHT` among the hit's ATT&CK tactics (1 when none is known);
- `asset`:  the largest criticality multiplier among the entity's `host.name` and `user.name`
  present (`AssetCriticality`: low 0.5, medium 1, high 1.5, extreme 2; an unmatched name is
  medium; an entity with neither, e.g. only `source.ip`, gets 1);
- `anomaly`: a statistical detector's anomaly score 0-100 (`extra.anomaly` of its hit, 0-1, x100),
  or none (factor 1).

Entity score (0-100), `entity_risk`: Elastic's entity risk. The window's contribution scores,
highest first, s1 >= s2 >= ..., give S = sum(s_i / i^1.5); S is normalised by its limit when every
score is 100 (100·zeta(1.5) = 261.2...): `100 · S / MAX_RAW`, then the entity's own criticality
multiplier is applied as above.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from guetteur.config import RiskSettings
from guetteur.detect import attack

Criticality = Literal["low", "medium", "high", "extreme"]

# Elastic's asset criticality levels as odds multipliers (low_impact .. extreme_impact).
CRITICALITY_MULTIPLIER: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 1.5, "extreme": 2.0}

# Sigma level -> base score. Elastic's default risk score per severity (low 21, medium 47, high 73,
# critical 99); Sigma's informational, which Elastic has not, gets 10.
LEVEL_SCORE: dict[str, int] = {"informational": 10, "low": 21, "medium": 47, "high": 73, "critical": 99}
DEFAULT_LEVEL_SCORE = LEVEL_SCORE["medium"]

# ATT&CK tactic (shortname) -> odds multiplier: what an attacker reaching that stage means.
# Actions on objectives and stolen secrets weigh most; looking around weighs less than 1.
TACTIC_WEIGHT: dict[str, float] = {
    "impact": 2.0,
    "exfiltration": 2.0,
    "credential-access": 1.5,
    "lateral-movement": 1.5,
    "privilege-escalation": 1.5,
    "command-and-control": 1.5,
    "collection": 1.25,
    "persistence": 1.25,
    "defense-evasion": 1.25,
    "execution": 1.25,
    "initial-access": 1.25,
    "discovery": 0.75,
    "reconnaissance": 0.5,
    "resource-development": 0.5,
}

# Elastic's normalisation constant: sum over i >= 1 of 100 / i^1.5 = 100 · zeta(1.5).
MAX_RAW = 100.0 * 2.612375348685488
DECAY = 1.5

# Entity fields that get a risk score (the alert entity fields of the alerting contract).
ENTITY_FIELDS: tuple[str, ...] = ("host.name", "user.name", "source.ip")


def apply_odds(score: float, multiplier: float) -> float:
    """`score` (0-100) with its odds multiplied by `multiplier` (> 0), still 0-100."""
    if score <= 0.0:
        return 0.0
    if score >= 100.0:
        return 100.0
    p = score / 100.0
    return 100.0 * multiplier * p / (1.0 + p * (multiplier - 1.0))


def round_score(score: float) -> int:
    """Nearest integer, halves up (so worked examples round the way people do), clamped 0-100."""
    if not math.isfinite(score):
        return 0 if score != score else (100 if score > 0 else 0)
    return max(0, min(100, math.floor(score + 0.5)))


def tactic_name(text: str) -> str:
    """`attack.credential_access`, `Credential-Access`, `TA0006` -> `credential-access`.

    Unknown names come back lower-cased with `-` for `_` (they weigh 1).
    """
    key = text.strip()
    if key.lower().startswith("attack."):
        key = key[len("attack.") :]
    tactic = attack.catalogue().tactic(key)
    return tactic.shortname if tactic is not None else key.lower().replace("_", "-")


def tactics_of_tags(tags: Iterable[str]) -> list[str]:
    """The ATT&CK tactics a rule's tags name or imply (a technique's tactics), matrix order, unique."""
    found: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not attack.is_attack_tag(tag):
            continue
        ref = attack.lookup(tag)
        for name in ref.tactics if ref.kind in ("tactic", "technique") else ():
            if name not in found:
                found.append(name)
    order = {t.shortname: t.order for t in attack.catalogue().tactics}
    return sorted(found, key=lambda name: order.get(name, 99))


def tactic_weight(tactics: Iterable[str]) -> float:
    """The largest weight among `tactics` (1 when none is known)."""
    weights = [TACTIC_WEIGHT[t] for t in (tactic_name(x) for x in tactics) if t in TACTIC_WEIGHT]
    return max(weights) if weights else 1.0


@dataclass(frozen=True, slots=True)
class AssetCriticality:
    """How much each asset matters: glob patterns on host and user names -> a criticality level.

    Patterns are shell globs (`db-*`, `*.prod.example.org`, `adm_?`), matched case-insensitively.
    When several patterns match a name the highest level wins (a pattern never lowers another's
    rating); a name no pattern matches is `medium` (multiplier 1).
    """

    hosts: tuple[tuple[str, Criticality], ...] = ()
    users: tuple[tuple[str, Criticality], ...] = ()

    @classmethod
    def from_mappings(
        cls, hosts: Mapping[str, Criticality] | None = None, users: Mapping[str, Criticality] | None = None
    ) -> AssetCriticality:
        """From `{pattern: level}` maps (the `[risk.hosts]` / `[risk.users]` settings)."""
        return cls(
            hosts=tuple((p.lower(), level) for p, level in (hosts or {}).items()),
            users=tuple((p.lower(), level) for p, level in (users or {}).items()),
        )

    @classmethod
    def from_settings(cls, settings: RiskSettings) -> AssetCriticality:
        """From a `config.RiskSettings` (its `hosts` and `users` maps)."""
        return cls.from_mappings(settings.hosts, settings.users)

    def level(self, field: str, value: object) -> Criticality:
        """The criticality of one entity value (`host.name` or `user.name`; others are medium)."""
        patterns = self.hosts if field == "host.name" else self.users if field == "user.name" else ()
        if not patterns or not isinstance(value, str) or not value:
            return "medium"
        name = value.lower()
        best: Criticality | None = None
        for pattern, level in patterns:
            if fnmatch.fnmatchcase(name, pattern) and (
                best is None or CRITICALITY_MULTIPLIER[level] > CRITICALITY_MULTIPLIER[best]
            ):
                best = level
        return best or "medium"

    def multiplier(self, entity: Mapping[str, object]) -> float:
        """The largest multiplier among the entity's host and user present (1 when it has neither)."""
        found = [
            CRITICALITY_MULTIPLIER[self.level(name, entity[name])]
            for name in ("host.name", "user.name")
            if isinstance(entity.get(name), str) and entity[name]
        ]
        return max(found) if found else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hosts": [{"pattern": p, "level": lv} for p, lv in self.hosts],
            "users": [{"pattern": p, "level": lv} for p, lv in self.users],
            "multipliers": dict(CRITICALITY_MULTIPLIER),
        }


NO_CRITICALITY = AssetCriticality()


def anomaly_score(extra: Mapping[str, Any] | None) -> float | None:
    """A statistical detector's anomaly score, 0-100, from its hit's `extra.anomaly` (0-1: how
    improbable the observation was, as `stats/` writes it), if any."""
    if not extra:
        return None
    value = extra.get("anomaly")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return 100.0 * min(1.0, max(0.0, float(value)))


def hit_risk(
    level: str,
    tactics: Sequence[str],
    entity: Mapping[str, str],
    criticality: AssetCriticality,
    anomaly: float | None = None,
) -> int:
    """The risk score 0-100 of one hit (see the module docstring for the formula).

    level:    the Sigma level (`informational` .. `critical`); anything else counts as medium.
    tactics:  ATT&CK tactics (`credential-access`, `attack.impact`, `TA0040`); unknown ones weigh 1.
    entity:   the alert entity (`host.name`, `user.name`, `source.ip` subset).
    anomaly:  an anomaly score 0-100 from a statistical detector, or None.
    """
    factors = hit_factors(level, tactics, entity, criticality, anomaly)
    return round_score(apply_odds(factors["base"], factors["tactic"] * factors["asset"] * factors["anomaly"]))


# Elastic's entity risk levels: (lowest score, name), highest first.
RISK_LEVELS: tuple[tuple[float, str], ...] = ((90.0, "critical"), (70.0, "high"), (40.0, "moderate"),
                                              (20.0, "low"), (0.0, "unknown"))


def risk_level(score: float) -> str:
    """Elastic's name for an entity score: unknown < 20 <= low < 40 <= moderate < 70 <= high < 90 <= critical."""
    return next(name for floor, name in RISK_LEVELS if score >= floor or floor == 0.0)


RISK_RULE_PREFIX = "guetteur.risk."
SCORE_RULE = "guetteur.risk.score"
TACTICS_RULE = "guetteur.risk.tactics"


def is_risk_rule(rule_id: str) -> bool:
    """A risk alert's own rule: its hits never feed entity risk again (no loop)."""
    return rule_id.startswith(RISK_RULE_PREFIX)


def hit_factors(
    level: str,
    tactics: Sequence[str],
    entity: Mapping[str, str],
    criticality: AssetCriticality,
    anomaly: float | None = None,
) -> dict[str, float]:
    """The factors of `hit_risk`, to show how a score was made: base score and multipliers."""
    return {
        "base": float(LEVEL_SCORE.get(level.lower() if isinstance(level, str) else "", DEFAULT_LEVEL_SCORE)),
        "tactic": tactic_weight(tactics),
        "asset": criticality.multiplier(entity),
        "anomaly": 1.0 if anomaly is None or not math.isfinite(anomaly) else 1.0 + min(100.0, max(0.0, anomaly)) / 100.0,
    }


def score_hit(
    rule_id: str,
    level: str,
    tactics: Sequence[str],
    entity: Mapping[str, str],
    extra: Mapping[str, Any] | None,
    criticality: AssetCriticality,
) -> int:
    """The score of a stored hit: `hit_risk` with the anomaly score of its `extra`; a risk alert's
    hit (`guetteur.risk.*`) scores the entity score it reports (`extra.entity_score`)."""
    if is_risk_rule(rule_id) and extra:
        reported = extra.get("entity_score")
        if isinstance(reported, int | float) and not isinstance(reported, bool):
            return round_score(float(reported))
    return hit_risk(level, tactics, entity, criticality, anomaly_score(extra))


def entity_risk(scores: Iterable[float], multiplier: float = 1.0) -> float:
    """An entity's risk 0-100 from its contributions' scores (any order) and its criticality multiplier.

    Elastic's entity risk: sorted descending, S = sum(s_i / i^1.5), normalised as 100·S/MAX_RAW,
    then the odds multiplied by the entity's criticality. Not rounded (the caller rounds to show).
    """
    ordered = sorted((min(100.0, max(0.0, float(s))) for s in scores), reverse=True)
    raw = sum(s / (i**DECAY) for i, s in enumerate(ordered, start=1))
    return apply_odds(100.0 * raw / MAX_RAW, multiplier)
