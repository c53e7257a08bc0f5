"""Silence matchers: rule id, tags, entity fields (CIDR, wildcards), and what is refused."""

from __future__ import annotations

import pytest

from guetteur.alert.silences import parse_matcher, parse_matchers
from guetteur.errors import AlertInputError

ENTITY = {"host.name": "WEB-01", "source.ip": "203.0.113.7", "user.name": "deploy"}
TAGS = ["attack.credential-access", "attack.t1110.001"]


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("rule_id", "abc", True), ("rule_id", "ab*", True), ("rule_id", "abd", False),
    ("tags", "attack.t1110*", True), ("tags", "attack.t1059*", False),
    ("host.name", "web-01", True), ("host.name", "web-*", True), ("host.name", "db-*", False),
    ("source.ip", "203.0.113.0/24", True), ("source.ip", "198.51.100.0/24", False),
    ("source.ip", "203.0.113.7", True), ("source.ip", "2001:db8::/32", False),
    ("destination.ip", "0.0.0.0/0", False),  # the entity has no such field
])
def test_matcher(field: str, value: str, expected: bool) -> None:
    assert parse_matcher({"field": field, "value": value}).matches("abc", TAGS, ENTITY) is expected


@pytest.mark.parametrize("raw", [
    None, [], "x", [{"field": "host.name"}], [{"value": "x"}], [{"field": "", "value": "x"}],
    [{"field": "host name", "value": "x"}], [{"field": "host.name", "value": ""}],
    [{"field": "host.name", "value": "*"}], [{"field": "host.name", "value": "x" * 513}],
    [{"field": "source.ip", "value": "10.0.0.0/99"}], [{"field": "rule_id", "value": "10.0.0.0/8"}],
    [{"field": "host.name", "value": 5}], [{"field": "x" * 200, "value": "y"}],
    [{"field": "host.name", "value": "a"}] * 17, ["not an object"],
])
def test_malformed_matchers_are_refused_with_a_reason(raw: object) -> None:
    with pytest.raises(AlertInputError) as caught:
        parse_matchers(raw)
    assert str(caught.value)
