"""`EventView` resolves slots with plain paths by `dict.get` and no-space steps by key scan."""

from __future__ import annotations

from guetteur.detect.logsource import NO_SPACE
from guetteur.detect.view import EventView, FieldSlots


def test_plain_and_no_space_slots_resolve_alike() -> None:
    slots = FieldSlots()
    plain = slots.slot((("winlog", "event_data", "SourceName"), ("source", "name")))
    spaced = slots.slot((("winlog", "event_data", NO_SPACE + "SourceName"), ("source", "name")))
    listed = slots.slot((("tags",),))
    number = slots.slot((("event", "code"),))
    missing = slots.slot((("nope", "x"),))
    assert slots.slot((("tags",),)) == listed  # interned
    event = {"winlog": {"event_data": {"Source Name": "Kernel"}}, "source": {"name": "fallback"},
             "tags": ["A", ["B", None]], "event": {"code": 4624}}
    view = EventView(event, slots)
    assert view.text(plain) == ("fallback",)
    assert view.text(spaced) == ("Kernel",)
    assert view.lower(spaced) == ("kernel",)
    assert view.raw(listed) == ("A", "B", None)
    assert view.text(listed) == ("A", "B")
    assert view.lower(listed) == ("a", "b")
    assert view.raw(number) == (4624,) and view.text(number) == ("4624",)
    assert view.raw(missing) is None and view.text(missing) == () and view.lower(missing) == ()
    # a literal key spelled like the marker is not a no-space match
    odd = EventView({"winlog": {"event_data": {NO_SPACE + "SourceName": "literal"}}}, slots)
    assert odd.raw(spaced) is None


def test_generated_getters_resolve_as_lookup() -> None:
    """The generated getters answer as `lookup`, for odd names (quotes, code) and deep paths."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from guetteur.detect.view import MISSING, lookup, make_getter

    names = st.sampled_from(["a", "b", "x'\"); import os #", "\\n", "é", "c.d"])
    paths = st.lists(st.lists(names, min_size=1, max_size=4).map(tuple), min_size=1, max_size=3).map(tuple)
    leaves = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))
    events = st.recursive(leaves, lambda inner: st.dictionaries(names, inner, max_size=3), max_leaves=12)

    @settings(max_examples=300, deadline=None)
    @given(events, paths)
    def check(event: object, wanted: tuple[tuple[str, ...], ...]) -> None:
        if not isinstance(event, dict):
            event = {"a": event}
        assert make_getter(wanted)(event) == lookup(event, wanted)

    check()
    deep = tuple("a" for _ in range(150))  # deeper than the generated code may nest
    node: dict[str, object] = {}
    top = node
    for _ in range(149):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    node["a"] = "deep"
    assert make_getter((deep,))(top) == "deep"
    assert make_getter((deep,))({}) is MISSING
