"""Field extraction that users configure without code: dissect and named-regex patterns.

A pattern file (YAML, `*.yml`/`*.yaml`, one pattern per YAML document) says which events a
pattern reads (`when`), which text (`field`), how to split it (`dissect` or `regex`), where the
captures go (ECS fields or `labels.*`), their types (`convert`), and constant fields (`set`).
See docs/extractors.md for the format. Patterns run in the parser workers after the built-in
parser (`guetteur.parse.parse_batch` calls `apply_batch`), in load order; every pattern whose
`when` holds and whose text matches sets its fields (a later pattern may overwrite an earlier
one). Shipped patterns live in `patterns/` (found like the rule pack); `parse.patterns_dirs`
adds folders or files, re-read when they change (`maybe_reload`, checked at most every
`parse.patterns_reload_interval` seconds).

Bounded cost, whatever the user writes:
- a pattern reads at most `max_bytes` characters of its field (default 4096, at most 65536):
  a 1 MB line costs what its head costs;
- dissect is a linear scan (`parse.dissect`);
- regexes run on the `regex` package with a per-match timeout (`parse.pattern_timeout`); a
  pattern that times out `TIMEOUTS_BEFORE_DISABLE` times is switched off in that worker until
  the next reload, with an error in the log, and the events it timed out on are tagged
  `extract_timeout`. Patterns with nested unbounded repeats (`(a+)+`, `(\\w*)*`), the classic
  catastrophic-backtracking shape, are refused when loaded.

A capture whose conversion fails (`int` of "abc", `ip` of "localhost") is not set and the event
is tagged `extract_convert_failed`; the event itself is always kept.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex
import yaml

from guetteur import ecs
from guetteur.errors import ConfigError, Location
from guetteur.model import Event
from guetteur.parse import severity, timefmt
from guetteur.parse.address import add_related, ip_text
from guetteur.parse.dissect import Dissect, DissectError, compile_dissect

log = logging.getLogger(__name__)
_sre: Any = importlib.import_module("re._parser")

PATTERN_SUFFIXES = (".yml", ".yaml")
DEFAULT_MAX_BYTES = 4096
MAX_MAX_BYTES = 65536
TIMEOUTS_BEFORE_DISABLE = 3
UNPARSED = "unparsed"  # the `when.parser` value for events no built-in parser recognised

# ECS field sets (8.x) a capture may go to, plus `labels` and our `json` namespace (where the
# JSON lines parser keeps application keys such as `json.patient_id`, read by the IDOR rule).
ECS_ROOTS = frozenset({
    "@timestamp", "agent", "as", "client", "cloud", "container", "data_stream", "destination", "device",
    "dll", "dns", "email", "error", "event", "faas", "file", "group", "host", "http", "json", "labels",
    "log", "message", "network", "observer", "orchestrator", "organization", "package", "process",
    "registry", "related", "rule", "server", "service", "source", "span", "tags", "threat", "tls",
    "trace", "transaction", "url", "user", "user_agent", "vulnerability",
})
# fields the registry owns: a pattern setting them would falsify the record
_PROTECTED = frozenset({"event.original", "event.ingested", "input.type", "event.id"})
_WHEN_KEYS = ("parser", "input", "path", "program")
_KEYS = frozenset({"name", "description", "when", "field", "dissect", "regex", "map", "convert", "set", "tags",
                   "max_bytes", "whole_line"})


class PatternError(ConfigError):
    """A pattern that cannot be used; `location.file` says which file."""


def _to_int(text: str) -> int | None:
    try:
        number = int(text.strip().replace("_", "x"), 10)  # "1_000" is not a log's number
    except ValueError:
        return None
    return number if -(2**63) <= number < 2**63 else None


def _to_float(text: str) -> float | None:
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _to_ip(text: str) -> str | None:
    return ip_text(text.strip().strip("[]"))


def _to_timestamp(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text[0].isdigit() and (text.replace(".", "", 1).isdigit()):
        return timefmt.epoch(text)
    if len(text) > 6 and text[-6] == " " and text[-5] in "+-":  # "16:21:41.594 +0200" (pino-pretty)
        text = text[:-6] + text[-5:]
    return timefmt.iso(text) or timefmt.clf(text)


def _to_level(text: str) -> str | None:
    found = severity.from_level(text.strip())
    return None if found is None else found[0]


def _to_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    return True if lowered in ("true", "yes", "1", "on") else False if lowered in ("false", "no", "0", "off") else None


def _to_keyword(text: str) -> str | None:
    return text


# type name -> conversion (None: the text is not of that type)
CONVERSIONS: dict[str, Callable[[str], Any]] = {
    "keyword": _to_keyword, "string": _to_keyword, "int": _to_int, "long": _to_int, "float": _to_float,
    "double": _to_float, "ip": _to_ip, "timestamp": _to_timestamp, "level": _to_level, "bool": _to_bool,
}


@dataclass(slots=True)
class Pattern:
    """One compiled pattern. `disabled` is set in a worker after repeated timeouts."""

    name: str
    file: str
    field: str
    captures: dict[str, str]  # capture name -> target field
    convert: dict[str, Callable[[str], Any]]  # target field -> conversion
    constants: dict[str, Any]
    tags: list[str]
    max_bytes: int
    whole_line: bool
    parsers: frozenset[str] | None
    inputs: frozenset[str] | None
    paths: tuple[str, ...]
    programs: frozenset[str] | None
    dissect: Dissect | None = None
    regex: Any = None  # a compiled `regex` pattern
    # cheap, exact tests before the match: the text's possible first characters (None: any)
    # and literals every match contains (see `_gates`)
    first: frozenset[str] | None = None
    literals: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, ...], ...] = ()  # one of each tuple is in every match
    timeouts: int = 0
    disabled: bool = False
    selective: bool = True  # any `when` beyond `parser` (the index already chose by parser)

    def __post_init__(self) -> None:
        self.selective = self.inputs is not None or bool(self.paths) or self.programs is not None

    def may_match(self, text: str) -> bool:
        """False only when the pattern certainly cannot match `text` (a non-ASCII first
        character always passes: Python's \\d and \\w also match non-ASCII digits and letters)."""
        if self.first is not None:
            head = text[:1]
            if head not in self.first and (not head or head.isascii()):
                return False
        if self.literals or self.alternatives:
            window = text if len(text) <= self.max_bytes else text[:self.max_bytes]
            for literal in self.literals:
                if literal not in window:
                    return False
            for choices in self.alternatives:
                if not any(choice in window for choice in choices):
                    return False
        return True

    def applies(self, event: Event, dataset: str) -> bool:
        """Whether `when` holds for `event` (its built-in parser's dataset is `dataset`)."""
        if self.selective is False:
            return True
        if self.parsers is not None and dataset not in self.parsers:
            return False
        if self.inputs is not None and (event.get("input") or {}).get("type") not in self.inputs:
            return False
        if self.paths:
            path = ecs.get(event, "log.file.path")
            if not isinstance(path, str) or not any(fnmatch.fnmatchcase(path, glob) for glob in self.paths):
                return False
        if self.programs is not None:
            program = ecs.get(event, "process.name")
            if not isinstance(program, str) or program.lower() not in self.programs:
                return False
        return True

    def captures_of(self, text: str, timeout: float) -> dict[str, str] | None:
        """The captured texts by capture name, or None. Raises TimeoutError (regex only)."""
        if not self.may_match(text):
            return None
        text = text[:self.max_bytes]
        if self.dissect is not None:
            return self.dissect.match(text)
        found = self.regex.match(text, timeout=timeout)
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


@dataclass(slots=True)
class PatternSet:
    """Patterns loaded from files, in load order, and every error met (one run reports all)."""

    patterns: list[Pattern] = field(default_factory=list)
    errors: list[PatternError] = field(default_factory=list)
    _by_parser: dict[str, list[Pattern]] = field(default_factory=dict)
    _any_parser: list[Pattern] = field(default_factory=list)
    _gates: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def index(self) -> None:
        """Index patterns by the parser they follow: most events find no candidate at once."""
        self._by_parser = {}
        self._any_parser = [p for p in self.patterns if p.parsers is None]
        for pattern in self.patterns:
            for parser in pattern.parsers or ():
                self._by_parser.setdefault(parser, []).append(pattern)
        order = {id(p): i for i, p in enumerate(self.patterns)}
        if self._any_parser:
            for parser, found in self._by_parser.items():
                merged = found + self._any_parser
                merged.sort(key=lambda p: order[id(p)])
                self._by_parser[parser] = merged

    def candidates(self, dataset: str) -> list[Pattern]:
        found = self._by_parser.get(dataset)
        return self._any_parser if found is None else found

    def first_chars(self, dataset: str) -> frozenset[str] | None:
        """The first characters any candidate of `dataset` could match on, when every one reads
        `message` (and the original line) and knows its first characters; else None."""
        if dataset not in self._gates:
            union: set[str] | None = set()
            for pattern in self.candidates(dataset):
                if pattern.first is None or pattern.field != "message" or union is None:
                    union = None
                    break
                union |= pattern.first
            self._gates[dataset] = None if union is None else frozenset(union)
        return self._gates[dataset]


def builtin_patterns_dir() -> Path | None:
    """The shipped patterns folder, or None: `$GUETTEUR_PATTERNS_DIR`, `guetteur/patterns` in
    the package, `<prefix>/share/guetteur/patterns` (wheel data files), `patterns/` at the root
    of a source checkout (the same lookup as the rule pack's)."""
    env = os.environ.get("GUETTEUR_PATTERNS_DIR")
    here = Path(__file__).resolve()
    candidates = [Path(env)] if env else []
    candidates += [here.parents[1] / "patterns", Path(sys.prefix) / "share" / "guetteur" / "patterns",
                   here.parents[3] / "patterns"]
    return next((c for c in candidates if c.is_dir()), None)


def pattern_paths(extra: Iterable[Path], builtin: bool = True) -> list[Path]:
    """The shipped folder (when `builtin` and found) followed by `extra` folders or files."""
    shipped = builtin_patterns_dir() if builtin else None
    return ([shipped] if shipped is not None else []) + [Path(p) for p in extra]


def iter_pattern_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix.lower() in PATTERN_SUFFIXES and p.is_file())
        elif path.exists():
            yield path


def load_patterns(paths: Iterable[Path]) -> PatternSet:
    """Load every pattern under `paths` (folders searched recursively); bad patterns and
    unreadable files go to `errors` and the others load. A later pattern with the name of an
    earlier one replaces it (a user's file can override a shipped pattern)."""
    loaded = PatternSet()
    by_name: dict[str, int] = {}
    for path in iter_pattern_files(paths):
        for pattern in _load_file(path, loaded.errors):
            if pattern.name in by_name:
                loaded.patterns[by_name[pattern.name]] = pattern
            else:
                by_name[pattern.name] = len(loaded.patterns)
                loaded.patterns.append(pattern)
    loaded.index()
    return loaded


def _load_file(path: Path, errors: list[PatternError]) -> list[Pattern]:
    where = str(path)
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        errors.append(PatternError(f"cannot read pattern file: {exc}", location=Location(file=where)))
        return []
    found: list[Pattern] = []
    for number, document in enumerate(documents, 1):
        if document is None:
            continue
        try:
            found.append(compile_pattern(document, where))
        except PatternError as exc:
            errors.append(exc)
        except Exception as exc:  # a malformed document must not stop the others
            errors.append(PatternError(f"pattern {number}: {exc}", location=Location(file=where)))
    return found


def _fail(where: str, name: str, reason: str) -> PatternError:
    return PatternError(f"pattern {name!r}: {reason}", location=Location(file=where))


def _strings(value: Any, where: str, name: str, key: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise _fail(where, name, f"when.{key} is a text or a list of texts")
    return items


def _target(path: str, where: str, name: str) -> str:
    if not isinstance(path, str) or not path or path.startswith(".") or path.endswith(".") or ".." in path:
        raise _fail(where, name, f"bad field name {path!r}")
    if path.split(".", 1)[0] not in ECS_ROOTS:
        raise _fail(where, name, f"{path!r} is not an ECS field: use an ECS field set "
                                 f"(user.id, source.ip...) or labels.<name>")
    if path in _PROTECTED:
        raise _fail(where, name, f"{path!r} is set by Guetteur itself")
    if path.startswith("labels.") and path.count(".") > 1:
        raise _fail(where, name, f"{path!r}: labels are flat (labels.<name>, no dots in the name)")
    return path


def compile_pattern(document: Any, where: str = "<pattern>") -> Pattern:
    """Validate and compile one pattern document; `PatternError` says what is wrong."""
    if not isinstance(document, dict):
        raise PatternError("a pattern is a mapping (name:, dissect: or regex:, ...)", location=Location(file=where))
    name = document.get("name")
    if not isinstance(name, str) or not regex.fullmatch(r"[A-Za-z0-9_.\-]{1,128}", name):
        raise PatternError(f"a pattern needs a name (letters, digits, _ . -), got {name!r}",
                           location=Location(file=where))
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise _fail(where, name, f"unknown keys {unknown}; known: {sorted(_KEYS)}")
    if ("dissect" in document) == ("regex" in document):
        raise _fail(where, name, "give exactly one of dissect: or regex:")
    when = document.get("when") or {}
    if not isinstance(when, dict) or set(when) - set(_WHEN_KEYS):
        raise _fail(where, name, f"when: holds only {', '.join(_WHEN_KEYS)}")
    source = document.get("field", "message")
    if not isinstance(source, str) or not source:
        raise _fail(where, name, "field: names the event field to read (default message)")
    max_bytes = document.get("max_bytes", DEFAULT_MAX_BYTES)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or not 1 <= max_bytes <= MAX_MAX_BYTES:
        raise _fail(where, name, f"max_bytes is a number from 1 to {MAX_MAX_BYTES}")
    dissect: Dissect | None = None
    compiled: Any = None
    if "dissect" in document:
        try:
            dissect = compile_dissect(document["dissect"])
        except DissectError as exc:
            raise _fail(where, name, str(exc)) from None
        names = dissect.names
    else:
        compiled = _compile_regex(document["regex"], where, name)
        names = list(compiled.groupindex)
        if not names:
            raise _fail(where, name, "the regex has no named group (?P<name>...)")
    mapping = document.get("map") or {}
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise _fail(where, name, "map: is capture name -> field")
    stray = sorted(set(mapping) - set(names))
    if stray:
        raise _fail(where, name, f"map: names captures the pattern does not have: {stray}")
    # a regex group cannot hold a dot: `user__id` means user.id when map: does not say
    captures = {c: _target(mapping.get(c, c.replace("__", ".")), where, name) for c in names}
    convert_spec = document.get("convert") or {}
    if not isinstance(convert_spec, dict):
        raise _fail(where, name, "convert: is field -> type")
    convert: dict[str, Callable[[str], Any]] = {}
    for target, kind in convert_spec.items():
        if target not in captures.values():
            raise _fail(where, name, f"convert: {target!r} is not a field this pattern sets")
        if kind not in CONVERSIONS:
            raise _fail(where, name, f"unknown type {kind!r} for {target}; known: {', '.join(sorted(CONVERSIONS))}")
        convert[target] = CONVERSIONS[kind]
    constants = document.get("set") or {}
    if not isinstance(constants, dict):
        raise _fail(where, name, "set: is field -> value")
    for target, value in constants.items():
        _target(target, where, name)
        if not isinstance(value, (str, int, float, bool, list)):
            raise _fail(where, name, f"set: {target} must be a text, number, boolean or list")
    tags = document.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(where, name, "tags: is a list of texts")
    if dissect is not None:
        first = frozenset(dissect.prefix[:1]) if dissect.prefix else None
        literals = tuple(d for d in (dissect.prefix[1:], *dissect.delimiters) if len(d) > 1)
        alternatives: tuple[tuple[str, ...], ...] = ()
    else:
        first, literals, alternatives = _gates(document["regex"], compiled.flags)
    return Pattern(
        first=first, literals=literals, alternatives=alternatives,
        name=name, file=where, field=source, captures=captures, convert=convert, constants=dict(constants),
        tags=list(tags), max_bytes=max_bytes, whole_line=bool(document.get("whole_line", False)),
        parsers=frozenset(_strings(when["parser"], where, name, "parser")) if "parser" in when else None,
        inputs=frozenset(_strings(when["input"], where, name, "input")) if "input" in when else None,
        paths=tuple(_strings(when["path"], where, name, "path")) if "path" in when else (),
        programs=frozenset(p.lower() for p in _strings(when["program"], where, name, "program"))
        if "program" in when else None,
        dissect=dissect, regex=compiled,
    )


def _compile_regex(text: Any, where: str, name: str) -> Any:
    if not isinstance(text, str) or not text:
        raise _fail(where, name, "regex: is a non-empty text")
    try:
        compiled = regex.compile(text, regex.VERSION0)
    except regex.error as exc:
        raise _fail(where, name, f"bad regex: {exc}") from None
    nested = _nested_repeat(text)
    if nested is not None:
        raise _fail(where, name, f"{nested} (catastrophic backtracking on a line that almost matches): "
                                 "bound the inner repeat ({1,64}) or make it atomic ((?>...))")
    return compiled


def _nested_repeat(text: str) -> str | None:
    """A description of the first unbounded repeat that holds another unbounded repeat
    (`(a+)+`, `(\\w*)*`, `(?:x+y?){2,}`), else None. Read on CPython's parse tree of the pattern
    (the `regex` syntax is a superset: a pattern CPython cannot parse is not checked here and
    relies on the timeout). Atomic groups and possessive repeats do not backtrack: accepted."""
    try:
        tree = _sre.parse(text)
    except Exception:  # regex-only syntax
        return None
    return _walk(list(tree), inside=False)


def _walk(items: list[Any], inside: bool) -> str | None:
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            low, high, body = arg
            unbounded = high == _sre.MAXREPEAT
            if unbounded and inside:
                return "a repeat inside a repeat"
            found = _walk(list(body), inside or unbounded)
            if found is not None:
                return found
        elif name in ("SUBPATTERN",):
            found = _walk(list(arg[-1]), inside)
            if found is not None:
                return found
        elif name == "BRANCH":
            for branch in arg[1]:
                found = _walk(list(branch), inside)
                if found is not None:
                    return found
        elif name in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT"):
            continue
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _walk(list(arg[1]), inside)
            if found is not None:
                return found
    return None


def _gates(text: str, flags: int) -> tuple[frozenset[str] | None, tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The possible first characters of a match, literal runs every match holds, and sets of
    words one of which every match holds (`(?P<level>INFO|WARN)`), read on CPython's parse
    tree; nothing when the pattern is case-insensitive or not CPython's syntax. All exact:
    they never refuse a text the pattern could match."""
    if flags & regex.IGNORECASE:
        return None, (), ()
    try:
        tree = list(_sre.parse(text))
    except Exception:  # regex-only syntax
        return None, (), ()
    if tree and str(tree[0][0]) == "SUBPATTERN" and (tree[0][1][1] or tree[0][1][2]):
        return None, (), ()  # inline flags
    runs: list[str] = []
    choices: list[tuple[str, ...]] = []
    _mandatory_literals(tree, runs, choices)
    # the longest runs, and single characters rarer than separators (a "," in a time)
    literals = tuple(sorted(set(runs), key=lambda r: (len(r), r.strip(" -:./T") != ""), reverse=True)[:3])
    return _first_chars(tree), literals, tuple(choices[:2])


def _first_chars(items: list[Any]) -> frozenset[str] | None:
    if not items:
        return None
    op, arg = items[0]
    name = str(op)
    if name == "LITERAL":
        return frozenset(chr(arg))
    if name == "IN":
        chars: set[str] = set()
        for member, value in arg:
            kind = str(member)
            if kind == "LITERAL":
                chars.add(chr(value))
            elif kind == "RANGE" and value[1] - value[0] <= 256:
                chars.update(chr(c) for c in range(value[0], value[1] + 1))
            elif kind == "CATEGORY" and str(value) == "CATEGORY_DIGIT":
                chars.update("0123456789")  # non-ASCII digits pass `may_match` anyway
            else:
                return None
        return frozenset(chars)
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return _first_chars(list(arg[2])) if arg[0] >= 1 else None
    if name == "SUBPATTERN":
        return None if (arg[1] or arg[2]) else _first_chars(list(arg[3]))
    if name == "ATOMIC_GROUP":
        return _first_chars(list(arg))
    if name == "BRANCH":
        union: set[str] = set()
        for branch in arg[1]:
            found = _first_chars(list(branch))
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if name == "AT" and str(arg) == "AT_BEGINNING":
        return _first_chars(items[1:])
    return None


def _mandatory_literals(items: list[Any], runs: list[str], choices: list[tuple[str, ...]]) -> None:
    """Append to `runs` the runs of consecutive literal characters every match contains
    (in sequences and in groups that must match once; not in branches or optional parts),
    and to `choices` the branches made of literals only, one of which every match contains."""
    current: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            current.append(chr(arg))
            continue
        if current:
            runs.append("".join(current))
            current = []
        if name == "SUBPATTERN" and not (arg[1] or arg[2]):
            _mandatory_literals(list(arg[3]), runs, choices)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            _mandatory_literals(list(arg[2]), runs, choices)
        elif name == "BRANCH":
            words = []
            for branch in arg[1]:
                if not branch or not all(str(o) == "LITERAL" for o, _ in branch):
                    break
                words.append("".join(chr(a) for _, a in branch))
            else:
                choices.append(tuple(words))
    if current:
        runs.append("".join(current))


@dataclass(slots=True)
class Applied:
    """What one pattern did to one event (for `guetteur parse --explain`)."""

    pattern: str
    file: str
    fields: dict[str, Any]
    failed: list[str]  # fields whose conversion failed


def _set(event: Event, path: str, value: Any) -> None:
    if path.startswith("labels."):
        labels = event.get("labels")
        if not isinstance(labels, dict):
            labels = event["labels"] = {}
        labels[path[7:]] = value
        return
    if path == "tags":
        values = value if isinstance(value, list) else [value]
        _add_tags(event, [str(v) for v in values])
        return
    try:
        ecs.put(event, path, value)
    except (TypeError, AttributeError):  # a scalar where an object goes: keep it aside
        labels = event.get("labels")
        if not isinstance(labels, dict):
            labels = event["labels"] = {}
        labels[path.replace(".", "_")] = value
    if path in ("user.name", "user.id") and isinstance(value, str):
        add_related(event, "user", value)
    elif path.endswith(".ip") and isinstance(value, str):
        add_related(event, "ip", value)


def _add_tags(event: Event, tags: list[str]) -> None:
    current = event.get("tags")
    if not isinstance(current, list):
        current = event["tags"] = []
    for tag in tags:
        if tag not in current:
            current.append(tag)


_KEEP_ON_REBUILD = ("@timestamp", "event", "input", "log", "tags", "guetteur", "labels")


def _rebuild(event: Event) -> None:
    """A whole-line pattern matched a line a built-in parser misread (a Java line read as
    a syslog line whose host is `[main]`): drop what that parser set from the line."""
    meta = event.get("event") or {}
    for key in list(event):
        if key not in _KEEP_ON_REBUILD:
            del event[key]
    log_obj = event.get("log")
    if isinstance(log_obj, dict):
        for key in ("level", "syslog", "logger"):
            log_obj.pop(key, None)
    for key in ("severity", "dataset", "module", "category", "type", "action", "outcome"):
        meta.pop(key, None)


def apply_pattern(pattern: Pattern, event: Event, text: str, timeout: float) -> Applied | None:
    """Run `pattern` on `text` (already selected from `event`) and set what it captured."""
    try:
        found = pattern.captures_of(text, timeout)
    except TimeoutError:
        pattern.timeouts += 1
        _add_tags(event, ["extract_timeout"])
        if pattern.timeouts >= TIMEOUTS_BEFORE_DISABLE and not pattern.disabled:
            pattern.disabled = True
            log.error("pattern %s (%s) timed out %d times: disabled until the patterns are reloaded",
                      pattern.name, pattern.file, pattern.timeouts)
        return None
    if found is None:
        return None
    if pattern.whole_line and text is not event.get("message"):
        _rebuild(event)
    fields: dict[str, Any] = {}
    failed: list[str] = []
    for capture, value in found.items():
        target = pattern.captures[capture]
        convert = pattern.convert.get(target)
        converted: Any = value if convert is None else convert(value)
        if converted is None or converted == "":
            if converted is None:
                failed.append(target)
            continue
        fields[target] = converted
    for target, value in pattern.constants.items():
        fields[target] = value
    for target, value in fields.items():
        _set(event, target, value)
    if "log.level" in fields and isinstance(fields["log.level"], str):
        level = severity.from_level(fields["log.level"])
        if level is not None:
            _set(event, "event.severity", level[1])
    tags = event.get("tags")
    if isinstance(tags, list) and UNPARSED in tags:
        tags.remove(UNPARSED)
        if not tags:
            del event["tags"]
    meta = event.get("event")
    if isinstance(meta, dict) and pattern.whole_line:  # the pattern is the event's format
        meta["module"] = "application"
        meta["dataset"] = pattern.name
    if pattern.tags:
        _add_tags(event, pattern.tags)
    if failed:
        _add_tags(event, ["extract_convert_failed"])
    ext = event.get("guetteur")
    if not isinstance(ext, dict):
        ext = event["guetteur"] = {}
    ext.setdefault("patterns", []).append(pattern.name)
    return Applied(pattern.name, pattern.file, fields, failed)


def _head_ok(text: str, first: frozenset[str] | None) -> bool:
    """The first-character test of `Pattern.may_match`, inlined where every event passes."""
    if first is None or not text:
        return True
    head = text[0]
    return head in first or not head.isascii()


def _starts_in(text: Any, first: frozenset[str]) -> bool:
    """Whether `text` starts with one of `first` or a non-ASCII character."""
    if type(text) is not str or not text:
        return False
    head = text[0]
    return head in first or not head.isascii()


def dataset_of(event: Event) -> str:
    """The built-in parser that made `event` (`event.dataset`), `unparsed` for none."""
    tags = event.get("tags")
    if isinstance(tags, list) and UNPARSED in tags:
        return UNPARSED
    meta = event.get("event")
    dataset = meta.get("dataset") if isinstance(meta, dict) else None
    return dataset if isinstance(dataset, str) else UNPARSED


class Extraction:
    """The patterns of one process (a worker, the CLI) and their hot reload."""

    def __init__(self, extra: Iterable[Path] = (), builtin: bool = True, reload_interval: float = 5.0,
                 timeout: float = 0.05) -> None:
        self.paths = pattern_paths(extra, builtin)
        self.reload_interval = reload_interval
        self.timeout = timeout
        self._fingerprint = self._scan()
        self._next_check = time.monotonic() + reload_interval
        self.patterns = self._load()

    def _scan(self) -> tuple[tuple[str, int, int], ...]:
        found = []
        for path in iter_pattern_files(self.paths):
            try:
                stat = path.stat()
            except OSError:  # removed while we looked
                continue
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(found))

    def _load(self) -> PatternSet:
        loaded = load_patterns(self.paths)
        for error in loaded.errors:
            log.error("pattern not loaded: %s (%s)", error.message, error.location)
        return loaded

    def maybe_reload(self) -> bool:
        """Reload when a pattern file was added, changed or removed (checked at most every
        `reload_interval` seconds; 0 = never)."""
        if self.reload_interval <= 0 or time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + self.reload_interval
        fingerprint = self._scan()
        if fingerprint == self._fingerprint:
            return False
        self._fingerprint = fingerprint
        self.patterns = self._load()
        log.info("patterns reloaded: %d patterns, %d errors", len(self.patterns.patterns),
                 len(self.patterns.errors))
        return True

    def apply(self, event: Event) -> list[Applied]:
        """Run the patterns whose `when` holds on `event`; what each one that matched set."""
        # the path of every event: a few dict lookups and, mostly, an early return
        meta = event.get("event")
        if not isinstance(meta, dict):
            meta = {}
        tags = event.get("tags")
        dataset = meta.get("dataset") if not (tags and UNPARSED in tags) else UNPARSED
        if not isinstance(dataset, str):
            dataset = UNPARSED
        patterns = self.patterns
        candidates = patterns.candidates(dataset)
        if not candidates:
            return []
        gate = patterns.first_chars(dataset)
        if gate is not None and not (_starts_in(event.get("message"), gate) or _starts_in(meta.get("original"), gate)):
            return []
        done: list[Applied] = []
        message = event.get("message")
        original = meta.get("original")
        for pattern in candidates:
            if pattern.disabled or (pattern.selective and not pattern.applies(event, dataset)):
                continue
            text = message if pattern.field == "message" else ecs.get(event, pattern.field)
            applied = None
            if type(text) is str and _head_ok(text, pattern.first) and pattern.may_match(text):
                applied = apply_pattern(pattern, event, text, self.timeout)
            # a whole-line pattern also reads the original line: a line a built-in parser
            # misread keeps its true shape only there
            if (applied is None and pattern.whole_line and type(original) is str and original is not text
                    and _head_ok(original, pattern.first) and original != text and pattern.may_match(original)):
                applied = apply_pattern(pattern, event, original, self.timeout)
            if applied is not None:
                done.append(applied)
                message = event.get("message")
        return done

    def apply_batch(self, events: list[Event]) -> None:
        patterns = self.patterns
        if not patterns.patterns:
            return
        by_parser = patterns._by_parser
        any_parser = bool(patterns._any_parser)
        apply = self.apply
        for event in events:
            # most events come from a parser no pattern follows: skip them in three lookups
            meta = event.get("event")
            if not any_parser and type(meta) is dict:
                dataset = meta.get("dataset")
                if dataset is not None and dataset not in by_parser and not event.get("tags"):
                    continue
            apply(event)


_ACTIVE: list[Extraction | None] = [None]


def active() -> Extraction:
    """The process's extraction: the shipped patterns until `configure` says more."""
    current = _ACTIVE[0]
    if current is None:
        current = _ACTIVE[0] = Extraction()
    return current


def configure(extra: Iterable[Path] = (), builtin: bool = True, reload_interval: float = 5.0,
              timeout: float = 0.05) -> Extraction:
    """Load the patterns this process uses (the workers and the CLI call it with the settings)."""
    current = _ACTIVE[0] = Extraction(extra, builtin, reload_interval, timeout)
    return current


@dataclass(slots=True)
class Explained:
    """How one record became its event (`guetteur parse --explain`)."""

    parser: str  # the built-in parser's dataset, or "unparsed"
    parser_fields: dict[str, Any]  # what the parser set (flattened; event.original/ingested left out)
    applied: list[Applied]  # the patterns that matched, in order, and what each set
    event: Event  # the final event


_OWNED_BY_REGISTRY = ("event.original", "event.ingested", "event.kind", "input.type")


def explain(records: Iterable[Any]) -> list[Explained]:
    """Parse `records` as the workers do, keeping apart what the parser and each pattern set."""
    from guetteur.parse import flush_pending, parse_batch

    extraction = active()
    _ACTIVE[0] = Extraction(builtin=False, reload_interval=0)  # parse without patterns first
    try:
        events = parse_batch(records).events + flush_pending().events
    finally:
        _ACTIVE[0] = extraction
    out: list[Explained] = []
    for event in events:
        parser = dataset_of(event)
        flat = {k: v for k, v in ecs.flatten(copy.deepcopy(event)).items() if k not in _OWNED_BY_REGISTRY}
        out.append(Explained(parser, flat, extraction.apply(event), event))
    return out


def apply_batch(events: list[Event]) -> None:
    """What `parse_batch` calls: reload changed pattern files, then extract."""
    extraction = active()
    extraction.maybe_reload()
    extraction.apply_batch(events)
