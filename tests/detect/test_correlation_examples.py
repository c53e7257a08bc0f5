"""The public Sigma correlation examples (spec, schema tests, pySigma) loaded and evaluated.

The standalone examples reference base rules they do not define; each test supplies minimal
base rules with those names/ids, then feeds events that must (and must not) fire.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from correlation_helpers import T0, event, hit

from guetteur.detect.correlation import CorrelationEngine
from guetteur.detect.engine import Detector
from guetteur.detect.hits import Hit
from guetteur.detect.rules import RuleSet, load_rule_texts, load_rules

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sigma" / "correlation-examples"
SCHEMA = "sigma-specification-tests/tests/schema/correlation"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def example(relative: str) -> str:
    path = EXAMPLES / relative
    if not path.is_file():
        pytest.skip(f"shared test data absent: {path}")
    return path.read_text(encoding="utf-8")


def with_base_rules(text: str, references: list[str]) -> RuleSet:
    docs = [text.strip()]
    for ref in references:
        ident = ref if UUID_RE.match(ref) else str(uuid.uuid5(uuid.NAMESPACE_URL, ref))
        name = "" if UUID_RE.match(ref) else f"name: {ref}\n"
        docs.append(
            f"title: base {ref}\nid: {ident}\n{name}logsource:\n    product: test\n"
            f"detection:\n    sel:\n        marker: {ref}\n    condition: sel\n"
        )
    rules = load_rule_texts([("example.yml", "\n---\n".join(docs))])
    assert not rules.errors, rules.errors
    return rules


def run(eng: CorrelationEngine, rules: RuleSet, steps: list[tuple[float, str, dict[str, Any]]]) -> list[Hit]:
    out: list[Hit] = []
    for t, ref, fields in steps:
        doc = event(T0 + t, **fields)
        out += eng.process(doc, [hit(rules, ref, doc)])
    return out + eng.flush()


FAILED = "5638f7c0-ac70-491d-8465-2a65075e0d86"

CASES: list[tuple[str, list[str], Any, Any]] = [
    # file, referenced rules, steps that fire, steps that must not fire
    (
        f"{SCHEMA}/event_count.yml",
        [FAILED],
        [(i, FAILED, {"ComputerName": "pc1"}) for i in range(100)],
        [(i * 40, FAILED, {"ComputerName": "pc1"}) for i in range(100)],  # 40 s apart: 90 per hour
    ),
    (
        f"{SCHEMA}/event_count_ecs.yml",
        [FAILED],
        [(i, FAILED, {"dns__question__name": "evil.example"}) for i in range(100)],
        [(i, FAILED, {"dns__question__name": f"d{i % 2}.example"}) for i in range(100)],
    ),
    (
        f"{SCHEMA}/value_count.yml",
        [FAILED],
        [(i, FAILED, {"ComputerName": "pc1", "WorkstationName": "ws", "User": f"u{i}"}) for i in range(100)],
        [
            (i, FAILED, {"ComputerName": "pc1", "WorkstationName": "ws", "User": f"u{i % 99}"})
            for i in range(300)
        ],
    ),
    (
        f"{SCHEMA}/temporal.yml",
        ["recon_cmd_a", "recon_cmd_b", "recon_cmd_c"],
        [
            (i * 60, r, {"ComputerName": "pc1", "User": "eve"})
            for i, r in enumerate(["recon_cmd_c", "recon_cmd_a", "recon_cmd_b"])
        ],
        [
            (i * 200, r, {"ComputerName": "pc1", "User": "eve"})
            for i, r in enumerate(["recon_cmd_c", "recon_cmd_a", "recon_cmd_b"])
        ],
    ),
    (
        f"{SCHEMA}/temporal_ordered.yml",
        ["recon_cmd_a", "recon_cmd_b", "recon_cmd_c"],
        [
            (i, r, {"ComputerName": "pc1", "User": "eve"})
            for i, r in enumerate(["recon_cmd_a", "recon_cmd_b", "recon_cmd_c"])
        ],
        [
            (i, r, {"ComputerName": "pc1", "User": "eve"})
            for i, r in enumerate(["recon_cmd_c", "recon_cmd_b", "recon_cmd_a"])
        ],
    ),
    (
        f"{SCHEMA}/value_sum.yml",
        ["website_access"],
        [
            (i, "website_access", {"SourceIP": "10.0.0.1", "User": "bob", "bytes_sent": 600_000})
            for i in range(2)
        ],
        [
            (i * 4000, "website_access", {"SourceIP": "10.0.0.1", "User": "bob", "bytes_sent": 600_000})
            for i in range(2)
        ],
    ),
    (
        f"{SCHEMA}/value_avg.yml",
        ["rule_a_id"],
        [
            (i, "rule_a_id", {"SourceIP": "10.0.0.1", "User": "bob", "BytesOut": b})
            for i, b in enumerate((400, 800))
        ],
        [
            (i, "rule_a_id", {"SourceIP": "10.0.0.1", "User": "bob", "BytesOut": b})
            for i, b in enumerate((400, 500))
        ],
    ),
    (
        "from-spec-markdown/spec_example_05.yml",
        [FAILED],
        [(i, FAILED, {"ComputerName": "pc1"}) for i in range(100)],
        [(i, FAILED, {"ComputerName": f"pc{i % 2}"}) for i in range(100)],
    ),
    (
        "from-spec-markdown/spec_example_09.yml",
        ["website_access"],
        [(0, "website_access", {"SourceIP": "10.0.0.1", "User": "bob", "bytes_sent": 1_000_001})],
        [(0, "website_access", {"SourceIP": "10.0.0.1", "User": "bob", "bytes_sent": 1_000_000})],
    ),
]


@pytest.mark.parametrize(
    ("relative", "refs", "firing", "quiet"), CASES, ids=[c[0].rsplit("/", 1)[-1] for c in CASES]
)
def test_example_fires_and_stays_quiet(relative: str, refs: list[str], firing: Any, quiet: Any) -> None:
    text = example(relative)
    for steps, expected in ((firing, 1), (quiet, 0)):
        rules = with_base_rules(text, refs)
        eng = CorrelationEngine(rules.correlations, lateness=0)
        assert not eng.errors and len(eng.specs) == 1
        out = run(eng, rules, steps)
        assert len(out) == expected, (relative, [h.extra for h in out])
        if out:
            assert out[0].correlation == eng.specs[0].type


def test_spec_example_14_aliases() -> None:
    # the example's `id: —` / `title: —` are placeholders pySigma refuses; drop them
    text = re.sub(r"^(id|title): .*$", "", example("from-spec-markdown/spec_example_14.yml"), flags=re.M)
    rules = with_base_rules(
        "title: aliases example\n" + text.strip(), ["internal_error", "new_network_connection"]
    )
    eng = CorrelationEngine(rules.correlations, lateness=0)
    out = run(
        eng,
        rules,
        [
            (0, "internal_error", {"source__ip": "198.51.100.7", "destination__ip": "10.0.0.5"}),
            (5, "new_network_connection", {"source__ip": "10.0.0.5", "destination__ip": "198.51.100.7"}),
        ],
    )
    assert [h.group_key for h in out] == [{"internal_ip": "10.0.0.5", "remote_ip": "198.51.100.7"}]


@pytest.mark.parametrize(
    "relative", [f"{SCHEMA}/value_percentile.yml", "from-spec-markdown/spec_example_11.yml"]
)
def test_value_percentile_examples_without_percentile_are_reported(relative: str) -> None:
    """The spec's value_percentile examples give no `percentile`; pySigma backends refuse it too."""
    rules = with_base_rules(example(relative), ["process_creation"])
    eng = CorrelationEngine(rules.correlations, lateness=0)
    assert eng.specs == []
    assert "percentile" in eng.errors[0][1]


def test_pysigma_file_end_to_end() -> None:
    text = example("pysigma/correlation_rule.yml")
    rules = load_rule_texts([("pysigma.yml", text)])
    assert not rules.errors
    eng = CorrelationEngine(rules.correlations, lateness=0)
    assert sorted(s.type for s in eng.specs) == ["event_count", "temporal", "value_count"]
    out = run(eng, rules, [(i, "base_rule", {"fieldC": "c", "fieldD": f"d{i % 3}"}) for i in range(3)])
    # value_count lt 10 over fieldD by fieldC: 3 distinct < 10 fires at window close
    assert [h.correlation for h in out] == ["value_count"]
    # its alias `field` is defined but not used by `group-by: [fieldC]`, so both events need fieldC
    out = run(eng, rules, [(100, "base_rule_1", {"fieldC": "x"}), (101, "base_rule_2", {"fieldD": "x"})])
    assert out == []
    out = run(eng, rules, [(200, "base_rule_1", {"fieldC": "x"}), (201, "base_rule_2", {"fieldC": "x"})])
    assert [(h.correlation, h.group_key) for h in out] == [("temporal", {"fieldC": "x"})]


def test_spec_example_15_with_the_real_detector() -> None:
    """Windows 4625 x10 then 4624 for one user, through Detector and CorrelationEngine."""
    path = EXAMPLES / "from-spec-markdown" / "spec_example_15.yml"
    if not path.is_file():
        pytest.skip("shared test data absent")
    rules = load_rules([path])
    detector = Detector(rules)
    eng = CorrelationEngine(rules.correlations, lateness=60)
    assert not detector.errors and not eng.errors

    def windows(t: float, code: str, user: str) -> dict[str, Any]:
        return {
            "@timestamp": event(T0 + t)["@timestamp"],
            "event": {"id": f"w{t}", "code": code, "module": "windows"},
            "winlog": {"channel": "Security", "event_id": code, "event_data": {"TargetUserName": user}},
            "user": {"name": user},
            "host": {"name": "dc1"},
        }

    alerts: list[Hit] = []
    for i in range(10):
        doc = windows(i, "4625", "bob")
        base = detector.match(doc)
        assert [h.alert for h in base] == [False]  # generate: false -> not an alert by itself
        alerts += [h for h in eng.process(doc, base) if h.alert]
    doc = windows(11, "4624", "alice")
    alerts += [h for h in eng.process(doc, detector.match(doc)) if h.alert]
    assert alerts == []
    doc = windows(12, "4624", "bob")
    alerts += [h for h in eng.process(doc, detector.match(doc)) if h.alert]
    assert [(h.rule_id, h.level, h.group_key) for h in alerts] == [
        ("b180ead8-d58f-40b2-ae54-c8940995b9b6", "high", {"User": "bob"})
    ]
