"""Dissect patterns: split a text on literal delimiters, as Elastic's dissect processor does.

`%{user.id}` captures up to the first occurrence of the literal that follows it (the last
key takes the rest of the text); `%{}` and `%{?name}` skip a part; `%{+key}` appends a part to
an earlier capture of `key` (joined with a space); `%{key->}` (or `%{->}`) also skips
repetitions of the delimiter that follows (padded columns: `WARN  com.example`).

Matching is one left-to-right scan with `str.find`: time linear in the text whatever the
pattern, so a user's dissect pattern cannot stall a worker (no backtracking, unlike regexes).
A text that lacks a delimiter, or does not start with the pattern's leading literal, does not
match. Elastic's reference keys (`%{*key}`/`%{&key}`) are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"%\{([^{}]*)\}")
_NAME = re.compile(r"[A-Za-z_@][\w.@\-]*\Z")


class DissectError(ValueError):
    """A dissect pattern that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class DissectKey:
    name: str  # "" for a skipped part
    append: bool  # %{+key}
    pad: bool  # %{key->}: skip repeated delimiters after the value


@dataclass(frozen=True, slots=True)
class Dissect:
    """A compiled dissect pattern: `prefix`, then for each key the literal that ends it."""

    pattern: str
    prefix: str
    keys: tuple[DissectKey, ...]
    delimiters: tuple[str, ...]  # delimiters[i] follows keys[i]; "" after the last key = the rest

    @property
    def names(self) -> list[str]:
        """The fields this pattern sets, in order, without repeats."""
        return list(dict.fromkeys(k.name for k in self.keys if k.name))

    def match(self, text: str) -> dict[str, str] | None:
        """The captured values by key, or None when `text` does not have the pattern's shape."""
        if not text.startswith(self.prefix):
            return None
        position = len(self.prefix)
        found: dict[str, str] = {}
        last = len(self.keys) - 1
        for index, key in enumerate(self.keys):
            delimiter = self.delimiters[index]
            if delimiter:
                end = text.find(delimiter, position)
                if end < 0:
                    return None
                value = text[position:end]
                position = end + len(delimiter)
                if key.pad:
                    while text.startswith(delimiter, position):
                        position += len(delimiter)
            elif index == last:
                value = text[position:]
                position = len(text)
            else:  # two keys with nothing between them: refused by compile_dissect
                return None
            if key.pad and not delimiter:
                value = value.rstrip()
            if not key.name:
                continue
            if key.append and key.name in found:
                found[key.name] = f"{found[key.name]} {value}"
            else:
                found[key.name] = value
        return found


def compile_dissect(pattern: str) -> Dissect:
    """Compile `pattern`; `DissectError` says what is wrong with it."""
    if not isinstance(pattern, str) or not pattern:
        raise DissectError("a dissect pattern is a non-empty text")
    pieces = _KEY.split(pattern)
    # split gives literal, key, literal, key, ..., literal
    literals, specs = pieces[0::2], pieces[1::2]
    if not specs:
        raise DissectError(f"no %{{key}} in dissect pattern {pattern!r}")
    if "%{" in "".join(literals):
        raise DissectError(f"unclosed or nested %{{ in dissect pattern {pattern!r}")
    keys: list[DissectKey] = []
    for position, spec in enumerate(specs):
        if position > 0 and not literals[position]:
            raise DissectError(
                f"%{{{specs[position - 1]}}} and %{{{spec}}} have no delimiter between them in {pattern!r}"
            )
        keys.append(_key(spec, pattern))
    return Dissect(pattern, literals[0], tuple(keys), tuple(literals[1:]))


def _key(spec: str, pattern: str) -> DissectKey:
    pad = spec.endswith("->")
    if pad:
        spec = spec[:-2]
    if spec[:1] in ("*", "&"):
        raise DissectError(f"reference keys (%{{{spec}}}) are not supported in {pattern!r}")
    if spec == "" or spec[:1] == "?":
        return DissectKey("", False, pad)
    append = spec[:1] == "+"
    name = spec[1:] if append else spec
    if "/" in name:  # Elastic's append order suffix (%{+key/2}) is not supported
        raise DissectError(f"append order (%{{{spec}}}) is not supported in {pattern!r}")
    if not _NAME.match(name):
        raise DissectError(f"bad key name {name!r} in dissect pattern {pattern!r}")
    return DissectKey(name, append, pad)
