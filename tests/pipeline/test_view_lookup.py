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
