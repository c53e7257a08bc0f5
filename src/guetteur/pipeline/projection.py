"""The parts of an event at a set of field paths: what a worker sends the correlation stage.

A `PathTrie` holds the paths (key -> sub-trie, or None where the whole value is kept);
`project` copies the event's dicts along those paths and shares the values at their ends.
Compiled with mypyc (`guetteur.compiled`): a worker projects every event that hits a rule a
correlation reads, about a third of the ingest mix.
"""

from __future__ import annotations

from typing import Any

from guetteur.model import Event

# A trie of field paths: key -> sub-trie, or None where the whole value is kept.
PathTrie = dict[str, Any]

_ABSENT: Any = object()


def add_path(trie: PathTrie, path: tuple[str, ...]) -> None:
    """Add one path; a path under one already kept whole adds nothing, and a path kept whole
    replaces the narrower ones under it."""
    node = trie
    last = len(path) - 1
    for position, part in enumerate(path):
        if part in node:
            child = node[part]
            if child is None:  # the whole value is already kept
                return
            if position == last:
                node[part] = None
                return
            node = child
        elif position == last:
            node[part] = None
        else:
            child = {}
            node[part] = child
            node = child


def project(event: Event, trie: PathTrie) -> Event:
    """The parts of `event` at the trie's paths (values shared, not copied). A lookup of any
    of those paths gives the same result on the projection as on the event."""
    out: Event = {}
    for key, sub in trie.items():
        value = event.get(key, _ABSENT)
        if value is _ABSENT:
            continue
        if sub is None:
            out[key] = value
        elif type(value) is dict:
            out[key] = project(value, sub)
    return out
