"""Conformance against public ground truth: Elastic's expected ECS documents (share of
expected leaf values we reproduce, per family) and CrowdSec/Wazuh samples (parsed, not
`unparsed`). See conformance.py for what is compared and what is ignored.

The table is printed (run with `-s`, or read the terminal summary). Families in
`conformance.ASSERTED_FAMILIES` must reach `conformance.TARGET`; a missing parser of an
asserted family fails.
"""

from __future__ import annotations

import conformance
import pytest

pytestmark = pytest.mark.skipif(not conformance.ELASTIC.exists(), reason="shared test data absent")


@pytest.fixture(scope="module")
def elastic_results() -> list[conformance.StreamResult]:
    results = conformance.run_elastic()
    print("\n" + conformance.format_table(results))
    return results


@pytest.mark.parametrize("family", conformance.ASSERTED_FAMILIES)
def test_elastic_family_score(elastic_results: list[conformance.StreamResult], family: str) -> None:
    """Every asserted family reproduces >= 90% of Elastic's expected field values."""
    scores = conformance.family_scores(elastic_results)
    assert family in scores, f"no fixture mapped to family {family}"
    matched, expected, present = scores[family]
    assert present, f"a parser of family {family} is missing"
    assert expected > 0
    worst = [r for r in elastic_results if r.family == family]
    detail = "\n".join(f"{r.stream}: {r.score:.1%} e.g. {r.fields.misses[:3]}" for r in worst)
    assert matched / expected >= conformance.TARGET, detail


@pytest.mark.parametrize("family", conformance.ASSERTED_FAMILIES)
def test_elastic_nothing_unparsed(elastic_results: list[conformance.StreamResult], family: str) -> None:
    """No Elastic fixture event of an asserted family falls back to `unparsed`."""
    unparsed = {r.stream: r.unparsed for r in elastic_results if r.family == family and r.unparsed}
    assert not unparsed


def test_every_fixture_directory_is_mapped() -> None:
    """A new fixture directory must get a hint in the table, or it would silently be skipped."""
    streams = {p.parent.relative_to(conformance.ELASTIC).as_posix()
               for p in conformance.ELASTIC.rglob("*-expected.json")}
    mapped = set(conformance.FIXTURES)
    unmapped = {s for s in streams if not any(s == m or s.startswith(m + "/") for m in mapped)}
    assert not unmapped


def test_harness_detects_a_wrong_value() -> None:
    """The comparison itself can fail: a changed value and a missing field are misses."""
    assert conformance.same_value("@timestamp", "2016-12-26T16:22:00.000+02:00", "2016-12-26T14:22:00.000Z")
    assert not conformance.same_value("@timestamp", "2016-12-26T16:22:00.000+02:00", "2016-12-26T16:22:00.000Z")
    assert conformance.same_value("event.action", ["deleted"], "deleted")
    assert not conformance.same_value("source.port", 22, "22")
    assert conformance.ignored("source.geo.city_name") and not conformance.ignored("source.ip")


@pytest.mark.parametrize("family", ["linux", "web", "database"])
def test_samples_parsed(family: str) -> None:
    """Every CrowdSec/Wazuh sample line of the family is recognised by auto-detection."""
    results = conformance.run_samples({family})
    assert results and sum(r.lines for r in results) > 0
    failures = {r.source: r.unparsed[:3] for r in results if r.unparsed}
    assert not failures
