"""Event ids made a batch at a time (`store/ids.py`)."""

from __future__ import annotations

from guetteur.store.ids import assign_event_ids, format_id, id_millis, new_event_ids, parse_event_id


def test_a_batch_of_ids_are_uuidv7_whose_text_is_their_bytes() -> None:
    """Every id of a batch: 16 bytes, version 7, variant 10, its text the canonical form of
    those bytes, read back to the same bytes."""
    ids = new_event_ids(5_003)
    assert len(ids) == 5_003
    for raw, text in ids:
        assert len(raw) == 16 and raw[6] >> 4 == 7 and raw[8] >> 6 == 0b10
        assert text == format_id(raw) and parse_event_id(text) == raw


def test_ids_sort_in_creation_order_across_batches() -> None:
    """Within a batch and from one batch to the next, ids (bytes and texts) only go up."""
    made = [raw for _ in range(3) for raw, _ in new_event_ids(4_100)] + [raw for raw, _ in new_event_ids(1)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert id_millis(made[-1]) >= id_millis(made[0])


def test_assign_keeps_valid_ids_and_numbers_the_others() -> None:
    """A valid id already in `event.id` is kept; the others, and the second of two equal ids,
    get fresh ones, written to the events."""
    (kept, kept_text), = new_event_ids(1)
    events = [{"event": {}}, {"event": {"id": kept_text}}, {"event": {"id": kept_text}}, {"message": "x"}]
    raws = assign_event_ids(events)
    assert raws[1] == kept and len(set(raws)) == 4
    assert [parse_event_id(e["event"]["id"]) for e in events] == raws
