"""Checking one YAML text of rules before it is saved: `check_rule_text`.

The console validates as the analyst types, and the API refuses to save a text with errors.
A text may hold several documents (a correlation and its base rules); each may be a Sigma rule,
a Sigma correlation rule or one of our first-seen rules (`type: first_seen`). Every problem is
a `Finding` with the line and column it is about (1-based), as far as known:

- YAML syntax errors carry their position (PyYAML's marks);
- YAML aliases (`*name`) are refused before anything is built from the text: a few lines of
  nested aliases expand to gigabytes (a "billion laughs"), and no rule needs them;
- pySigma's errors carry no position: the finding points at the key or value the message
  quotes (`Unknown modifier 'foo'` -> the `field|foo` key; `'huge' is not a valid level` ->
  that value), else at a key the message names (`title`, `condition`...), else at the start of
  the document;
- rules that parse but cannot compile (a condition naming a missing selection, a bad regex),
  correlations the engine refuses, and a log source no event of ours carries are reported the
  same way, the last as a warning (the rule loads but can never fire).

Correlations may reference rules of the text or any loaded detection rule (`base`): a
correlation on a built-in rule validates (a correlation of a loaded correlation does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from guetteur.detect.rules import (
    LoadedCorrelation,
    LoadedRule,
    RuleSet,
    _finish,
    parse_rule_text,
)

MAX_TEXT_BYTES = 262_144  # one rule file through the API; a Sigma rule is a few KB
MAX_YAML_EVENTS = 50_000  # parser events (scalars, mappings...) of one text
MAX_DOCUMENTS = 100
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SOURCE = "<text>#"
_NAMED_KEYS = ("condition", "detection", "logsource", "correlation", "timespan", "group-by", "rules",
               "title", "level", "status", "tags", "first_seen", "fields", "history", "id", "name", "type")
_QUOTED = re.compile(r"'([^']{1,200})'|\"([^\"]{1,200})\"")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in the text. `severity` is `error` (the text cannot be saved) or `warning`."""

    message: str
    severity: str = "error"
    line: int | None = None
    column: int | None = None


@dataclass(slots=True)
class RuleCheck:
    """What `check_rule_text` found: the problems and the rules the text defines."""

    findings: list[Finding] = field(default_factory=list)
    rules: list[LoadedRule] = field(default_factory=list)
    correlations: list[LoadedCorrelation] = field(default_factory=list)
    first_seen: list[Any] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ids(self) -> list[str]:
        """The ids the text defines, in order (rules, correlations, first-seen rules)."""
        found = [r.id for r in self.rules] + [c.id for c in self.correlations] + [r.id for r in self.first_seen]
        return list(dict.fromkeys(found))

    @property
    def main_id(self) -> str | None:
        """The rule the text is about: its correlation no other one references, else its first
        rule (first-seen rules last)."""
        referenced = {id(getattr(ref, "rule", None)) for c in self.correlations for ref in c.rule.rules or ()}
        for corr in self.correlations:
            if id(corr.rule) not in referenced:
                return corr.id
        if self.rules:
            return self.rules[0].id
        return self.first_seen[0].id if self.first_seen else None


@dataclass(slots=True)
class _Document:
    start: tuple[int, int]
    end_index: int
    start_index: int
    keys: list[tuple[str, int, int]] = field(default_factory=list)  # (key, line, column)
    values: list[tuple[str, int, int]] = field(default_factory=list)  # scalar values


def _position(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    return int(mark.line) + 1, int(mark.column) + 1


def _syntax(text: str) -> list[Finding]:
    """YAML errors and aliases, from the parser's events (nothing is built)."""
    count = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            count += 1
            if count > MAX_YAML_EVENTS:
                return [Finding(f"the text is too complex (more than {MAX_YAML_EVENTS} YAML nodes)")]
            if isinstance(event, yaml.AliasEvent):
                line, column = _position(event.start_mark)
                return [Finding("YAML aliases (*name) are not accepted in rules", "error", line, column)]
    except yaml.MarkedYAMLError as exc:
        line, column = _position(exc.problem_mark or exc.context_mark)
        problem = " ".join(str(exc.problem or exc.context or "YAML syntax error").split())
        return [Finding(f"YAML: {problem}", "error", line, column)]
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        return [Finding(f"YAML: {' '.join(str(exc).split())[:300]}")]
    return []


def _walk(node: Any, into: _Document, depth: int = 0) -> None:
    if depth > 50:
        return
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                into.keys.append((str(key.value), key.start_mark.line + 1, key.start_mark.column + 1))
            _walk(value, into, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _walk(item, into, depth + 1)
    elif isinstance(node, yaml.ScalarNode):
        into.values.append((str(node.value), node.start_mark.line + 1, node.start_mark.column + 1))


def _documents(text: str) -> list[_Document]:
    documents = []
    for node in yaml.compose_all(text, Loader=_LOADER):
        if node is None:
            continue
        doc = _Document((node.start_mark.line + 1, node.start_mark.column + 1), node.end_mark.index,
                        node.start_mark.index)
        _walk(node, doc)
        documents.append(doc)
    return documents


def _locate(message: str, doc: _Document | None) -> tuple[int | None, int | None]:
    """Where in `doc` a pySigma message without position is about (see the module docstring)."""
    if doc is None:
        return None, None
    for match in _QUOTED.finditer(message):
        token = match.group(1) or match.group(2)
        for key, line, column in doc.keys:
            if key == token or f"|{token}" in key:
                return line, column
        for value, line, column in doc.values:
            if value == token:
                return line, column
    lowered = message.lower().replace("identifier", "id")
    for name in _NAMED_KEYS:
        if re.search(rf"\b{re.escape(name)}\b", lowered):
            for key, line, column in doc.keys:
                if key == name:
                    return line, column
    return doc.start


def _document_of(source: str, documents: list[_Document]) -> _Document | None:
    if not source.startswith(_SOURCE):
        return None
    try:
        index = int(source[len(_SOURCE):])
    except ValueError:
        return None
    return documents[index] if 0 <= index < len(documents) else None


def _reason(reason: str) -> str:
    """A compile error's reason without the rule id prefix the detector adds."""
    head, sep, rest = reason.partition(": ")
    return rest if sep and len(head) <= 128 and " " not in head else reason


def check_rule_text(text: str, base: RuleSet | None = None, *, placeholders: dict[str, list[str]] | None = None
                    ) -> RuleCheck:
    """Every problem of one YAML text of rules (see the module docstring). `base`: the loaded
    rules correlations of the text may reference (it is not modified)."""
    from guetteur.detect.correlation import CorrelationEngine
    from guetteur.detect.engine import Detector

    check = RuleCheck()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        check.findings.append(Finding(f"the text is larger than {MAX_TEXT_BYTES} bytes"))
        return check
    if "\x00" in text:
        check.findings.append(Finding("the text holds a NUL character"))
        return check
    check.findings.extend(_syntax(text))
    if check.findings:
        return check
    try:
        documents = _documents(text)
    except (yaml.YAMLError, RecursionError) as exc:
        check.findings.append(Finding(f"YAML: {' '.join(str(exc).split())[:300]}"))
        return check
    if not documents:
        check.findings.append(Finding("the text holds no rule", "error", 1, 1))
        return check
    if len(documents) > MAX_DOCUMENTS:
        check.findings.append(Finding(f"more than {MAX_DOCUMENTS} documents in one text"))
        return check

    # the base's rules only: resolving references rewrites correlations, and the base's stay as loaded
    combined = RuleSet(rules=list(base.rules) if base else [], filters=list(base.filters) if base else [])
    own = RuleSet()
    for index, doc in enumerate(documents):
        piece = text[doc.start_index:doc.end_index]
        parse_rule_text(piece, f"{_SOURCE}{index}", own)
    seen: set[tuple[str, str]] = set()
    for error in own.errors:
        if (error.file, error.reason) in seen:  # pySigma reports some errors twice
            continue
        seen.add((error.file, error.reason))
        line, column = _locate(error.reason, _document_of(error.file, documents))
        check.findings.append(Finding(error.reason, "error", line, column))
    own_ids = {r.id for r in own.rules} | {c.id for c in own.correlations}
    combined.rules = [r for r in combined.rules if r.id not in own_ids] + own.rules
    combined.correlations = list(own.correlations)
    _finish(combined)
    for error in combined.errors:  # unresolved correlation references
        line, column = _locate(error.reason, _document_of(error.file, documents))
        check.findings.append(Finding(error.reason, "error", line, column))
    check.rules = [r for r in combined.rules if r.source.startswith(_SOURCE)]
    check.correlations = [c for c in combined.correlations if c.source.startswith(_SOURCE)]
    check.first_seen = list(own.first_seen)

    detector = Detector(RuleSet(rules=check.rules, filters=combined.filters), placeholders=placeholders,
                        timing=False)
    for error in detector.errors:
        line, column = _locate(error.reason, _document_of(error.file, documents))
        check.findings.append(Finding(_reason(error.reason), "error", line, column))
    for error in detector.unrouted:
        line, column = _locate("logsource", _document_of(error.file, documents))
        check.findings.append(Finding(f"never fires: {error.reason}", "warning", line, column))
    if check.correlations:
        engine = CorrelationEngine(check.correlations, lateness=0)
        sources = {c.id: c.source for c in check.correlations}
        for rule_id, why in engine.errors:
            line, column = _locate(why, _document_of(sources.get(rule_id, ""), documents))
            check.findings.append(Finding(f"correlation: {why}", "error", line, column))
    if not check.errors and not check.ids:
        check.findings.append(Finding("the text holds no rule", "error", *documents[0].start))
    everything: list[LoadedRule | LoadedCorrelation] = [*check.rules, *check.correlations]
    for loaded in everything:
        if loaded.id.startswith(_SOURCE):
            line, column = _locate("title", _document_of(loaded.source, documents))
            check.findings.append(Finding("the rule has no id: give it one (a UUID) to save it", "warning",
                                          line, column))
    check.findings.sort(key=lambda f: (f.line or 0, f.column or 0))
    return check
