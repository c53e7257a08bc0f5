"""The parser names the property tests feed hostile input to, read from the parser registry
(`guetteur.parse.PARSERS`) instead of lists kept by hand: a parser is fuzzed as soon as it is
registered, in the test file of its family (`FUZZED_FAMILIES` says which file covers which family;
`test_properties.test_every_family_is_fuzzed` fails when a new family is covered by none)."""

from __future__ import annotations

from guetteur.parse import PARSERS

# test file -> the families its garbage / truncation tests cover
FUZZED_FAMILIES: dict[str, tuple[str, ...]] = {
    "test_properties.py": ("linux", "application", "web", "database"),
    "test_network_parsers.py": ("network",),
    "test_windows_parsers.py": ("windows",),
}


def parsers_of(*families: str) -> list[str]:
    """The registered parsers of `families`, sorted by name."""
    names = sorted(name for name, parser in PARSERS.items() if parser.family in families)
    if not names:
        raise LookupError(f"no parser registered for {families}")
    return names


def hints_of(*families: str) -> list[str | None]:
    """None (auto-detection) and every parser of `families`: what `sampled_from` draws."""
    return [None, *parsers_of(*families)]
