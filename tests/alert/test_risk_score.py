"""The risk formulas of `alert/risk.py` on examples computed by hand (docs/risk.md shows the same ones)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guetteur.alert.risk import (
    MAX_RAW,
    NO_CRITICALITY,
    AssetCriticality,
    anomaly_score,
    apply_odds,
    entity_risk,
    hit_risk,
    round_score,
    tactic_name,
    tactics_of_tags,
)
from guetteur.config import RiskSettings

RATED = AssetCriticality.from_mappings(
    hosts={"db-*": "extreme", "*.lab": "low", "web?": "low", "web1": "high"},
    users={"adm_*": "high", "svc-*": "low"},
)


def test_high_credential_access_unrated_host() -> None:
    """73 -> odds 73/27 = 2.7037, x1.5 = 4.0556 -> 4.0556/5.0556 = 0.8022 -> 80."""
    assert hit_risk("high", ["credential-access"], {"host.name": "srv"}, NO_CRITICALITY) == 80


def test_medium_discovery_low_host() -> None:
    """47 -> odds 0.8868, x0.75 (discovery) x0.5 (low host) = 0.3325 -> 0.2496 -> 25."""
    assert hit_risk("medium", ["discovery"], {"host.name": "ws.lab"}, RATED) == 25


def test_critical_impact_extreme_host() -> None:
    """99 -> odds 99, x2 (impact) x2 (extreme) = 396 -> 396/397 = 0.9975 -> 100."""
    assert hit_risk("critical", ["attack.impact"], {"host.name": "DB-01"}, RATED) == 100


def test_low_with_anomaly_on_high_user() -> None:
    """21 -> odds 0.2658, x1.5 (adm_ user) x1.8 (anomaly 80) = 0.7177 -> 0.4178 -> 42."""
    assert hit_risk("low", [], {"user.name": "adm_marie"}, RATED, anomaly=80) == 42


def test_informational_reconnaissance() -> None:
    """10 -> odds 0.1111, x0.5 = 0.0556 -> 0.0526 -> 5."""
    assert hit_risk("informational", ["reconnaissance"], {}, NO_CRITICALITY) == 5


def test_neutral_factors_keep_the_level_score() -> None:
    assert [hit_risk(lv, [], {}, NO_CRITICALITY) for lv in ("informational", "low", "medium", "high", "critical")] == [
        10, 21, 47, 73, 99,
    ]


def test_heaviest_tactic_wins() -> None:
    """discovery (0.75) beside exfiltration (2): the hit weighs as exfiltration: 47 -> 0.8868 x2 -> 64."""
    assert hit_risk("medium", ["discovery", "exfiltration"], {}, NO_CRITICALITY) == 64


def test_tactic_names_in_every_spelling() -> None:
    assert {tactic_name(t) for t in ("credential-access", "attack.credential_access", "TA0006", "Credential-Access")} == {
        "credential-access"
    }
    assert tactic_name("attack.stealth") == "stealth"  # unknown to this catalogue: kept, weighs 1
    assert hit_risk("medium", ["attack.stealth"], {}, NO_CRITICALITY) == 47


def test_tactics_implied_by_technique_tags() -> None:
    assert tactics_of_tags(["attack.t1110.001", "attack.credential_access", "attack.t1059", "cve.2021-4034"]) == [
        "execution",
        "credential-access",
    ]


def test_unknown_level_counts_as_medium() -> None:
    assert hit_risk("severe", [], {}, NO_CRITICALITY) == 47


@pytest.mark.parametrize(
    ("entity", "multiplier"),
    [
        ({"host.name": "web2"}, 0.5),  # web? -> low
        ({"host.name": "web1"}, 1.5),  # web? low and web1 high: the highest wins
        ({"host.name": "db-7.example"}, 2.0),
        ({"host.name": "unknown"}, 1.0),
        ({"user.name": "svc-backup"}, 0.5),
        ({"host.name": "web2", "user.name": "adm_x"}, 1.5),  # the most critical of host and user
        ({"host.name": "web2", "user.name": "bob"}, 1.0),  # an unrated user is medium
        ({"source.ip": "10.0.0.1"}, 1.0),
        ({}, 1.0),
    ],
)
def test_criticality_multipliers(entity: dict[str, str], multiplier: float) -> None:
    assert RATED.multiplier(entity) == multiplier


def test_criticality_from_settings() -> None:
    settings = RiskSettings(hosts={"PACS-*": "extreme"}, users={"root": "high"})
    crit = AssetCriticality.from_settings(settings)
    assert crit.level("host.name", "pacs-01") == "extreme"
    assert crit.level("user.name", "ROOT") == "high"
    assert crit.level("source.ip", "pacs-01") == "medium"


def test_settings_refuse_bad_levels_and_patterns() -> None:
    with pytest.raises(ValueError, match="literal_error|Input should be"):
        RiskSettings(hosts={"db-*": "critical"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="1 to 255"):
        RiskSettings(users={"  ": "high"})


def test_hostile_entity_values() -> None:
    """Glob metacharacters, control characters, huge and non-string values: no error, medium."""
    for value in ("[", "*" * 10_000, "a\x00b", "é" * 5000, 12, None, ["db-1"], {"x": 1}):
        assert RATED.multiplier({"host.name": value, "user.name": value}) in (1.0, 2.0)  # type: ignore[dict-item]
    assert RATED.level("host.name", "[") == "medium"
    assert hit_risk("high", ["\x00", "attack." + "x" * 10_000], {"host.name": "db-["}, RATED) == 84


def test_anomaly_score_from_extra() -> None:
    """`stats/` writes `extra.anomaly` as 0-1; the score is 0-100."""
    assert anomaly_score({"anomaly": 0.735}) == pytest.approx(73.5)
    assert anomaly_score({"anomaly": 1e9}) == 100.0
    assert anomaly_score({"anomaly": -3}) == 0.0
    for bad in (None, {}, {"anomaly": "0.9"}, {"anomaly": True}, {"anomaly": math.nan}, {"anomaly_score": 90}):
        assert anomaly_score(bad) is None  # type: ignore[arg-type]


def test_entity_risk_worked_example() -> None:
    """99, 73, 47 (any order): S = 99 + 73/2^1.5 + 47/3^1.5 = 133.854; 100*S/261.24 = 51.24."""
    assert entity_risk([47, 99, 73]) == pytest.approx(51.2386, abs=1e-3)
    assert round_score(entity_risk([47, 99, 73])) == 51


def test_entity_risk_criticality_as_odds() -> None:
    """51.24 -> odds 1.0508; high (x1.5) -> 1.5762 -> 61.18; low (x0.5) -> 0.5254 -> 34.44."""
    assert entity_risk([99, 73, 47], 1.5) == pytest.approx(61.18, abs=1e-2)
    assert entity_risk([99, 73, 47], 0.5) == pytest.approx(34.44, abs=1e-2)


def test_entity_risk_single_critical_hit_and_bounds() -> None:
    assert entity_risk([99]) == pytest.approx(100 * 99 / MAX_RAW)  # 37.90: one critical hit alone
    assert entity_risk([]) == 0.0
    assert entity_risk([100] * 50_000) < 100.0


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=200),
       st.sampled_from([0.5, 1.0, 1.5, 2.0]))
def test_entity_risk_stays_in_range(scores: list[float], multiplier: float) -> None:
    assert 0.0 <= entity_risk(scores, multiplier) <= 100.0


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0.01, max_value=100))
def test_odds_multiplier_stays_in_range_and_is_monotonic(score: float, multiplier: float) -> None:
    moved = apply_odds(score, multiplier)
    assert 0.0 <= moved <= 100.0
    assert (moved >= score - 1e-9) if multiplier >= 1 else (moved <= score + 1e-9)


def test_the_alert_manager_scores_a_risk_alert_by_the_entity_score_it_reports() -> None:
    """An ordinary hit's alert gets `hit_risk` of its level; a risk alert's hit (`guetteur.risk.*`)
    gets the entity score it reports, not the score of its own level."""
    from datetime import UTC, datetime

    from guetteur.alert.manager import risk_function
    from guetteur.alert.model import StoredHit
    from guetteur.alert.risk import AssetCriticality, hit_risk
    from guetteur.config import Settings

    risk_of = risk_function(Settings())
    assert risk_of is not None
    now = datetime(2026, 12, 5, tzinfo=UTC)

    def hit(rule_id: str, extra: dict[str, object] | None) -> StoredHit:
        return StoredHit(1, now, rule_id, "t", "high", [], [], [], extra=extra)

    entity = {"host.name": "web-01"}
    plain = risk_of(hit("some-sigma-rule", None), ["credential-access"], entity)
    assert plain == hit_risk("high", ["credential-access"], entity, AssetCriticality.from_settings(Settings().risk))
    assert risk_of(hit("guetteur.risk.score", {"entity_score": 91}), ["credential-access"], entity) == 91
