"""KQL text -> a small query tree (`Node`), with Kibana's semantics (kbn-es-query grammar).

The grammar is `kql.lark` (LALR: linear time, no recursion in the parser itself). The tree is
then built bottom-up without recursion either, after a depth check, so a hostile query can
only give a `KqlError` (400 with a character position), never a RecursionError.

What the tree says, in Kibana's words:
- `Is(field, value)`: `field:value`; `field=None` is free text (`value` alone);
- `Exists(field)`: `field:*`; `MatchAll`: the empty query, `*` and `*:*`;
- `Range(field, op, value)`: `field < value` and friends;
- `And`/`Or`/`Not`; value lists `f:(a or b and not c)` become the same operators over `Is`.
Field names and values are `Text`: the decoded characters, with `None` standing for each
unescaped `*` of an unquoted literal (a wildcard); quoted text never holds a wildcard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import lark
from lark import Token, Tree

from guetteur.errors import QueryError

MAX_QUERY_LENGTH = 8192
MAX_DEPTH = 64  # nested parentheses


class KqlError(QueryError):
    """A query that is not KQL, or that Guetteur cannot run; `position` is a 0-based
    character offset into the query text."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position})")
        self.reason = message
        self.position = position


@dataclass(frozen=True, slots=True)
class Text:
    """Decoded literal text; `None` in `parts` is an unescaped `*` (a wildcard)."""

    parts: tuple[str | None, ...]
    quoted: bool
    position: int

    @property
    def wildcard(self) -> bool:
        return None in self.parts

    @property
    def plain(self) -> str:
        """The text with each wildcard written as `*`."""
        return "".join("*" if p is None else p for p in self.parts)

    @property
    def star(self) -> bool:
        """Exactly one bare wildcard: `*`."""
        return self.parts == (None,)


@dataclass(frozen=True, slots=True)
class MatchAll:
    pass


@dataclass(frozen=True, slots=True)
class Is:
    field: Text | None
    value: Text


@dataclass(frozen=True, slots=True)
class Exists:
    field: Text


@dataclass(frozen=True, slots=True)
class Range:
    field: Text
    op: str  # one of < <= > >=
    value: Text


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = MatchAll | Is | Exists | Range | And | Or | Not

_UNQUOTED_PIECE = re.compile(
    r'\\(?P<ws>[trn])|\\(?P<special>[\\():<>"*{}])|\\u(?P<hex>[0-9a-fA-F]{4})|\\(?P<kw>(?i:or|and|not))'
    r"|(?P<star>\*)|(?P<char>.)",
    re.DOTALL,
)
_QUOTED_PIECE = re.compile(r'\\(?P<ws>[trn])|\\u(?P<hex>[0-9a-fA-F]{4})|\\(?P<esc>[\\"])|(?P<char>.)', re.DOTALL)
_WHITESPACE = {"t": "\t", "r": "\r", "n": "\n"}
_EXPECTED_WORDS = {
    "UNQUOTED": "a value", "QUOTED": "a quoted value", "LPAR": "'('", "RPAR": "')'", "COLON": "':'",
    "RANGE": "a comparison", "OR": "'or'", "AND": "'and'", "NOT": "'not'", "$END": "the end of the query",
}


@cache
def _parser() -> lark.Lark:
    grammar = resources.files("guetteur.search").joinpath("kql.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", maybe_placeholders=False)


def _decode_unquoted(token: Token) -> Text:
    parts: list[str | None] = []
    for m in _UNQUOTED_PIECE.finditer(str(token)):
        if m["star"]:
            parts.append(None)
            continue
        if m["ws"]:
            piece = _WHITESPACE[m["ws"]]
        elif m["special"]:
            piece = m["special"]
        elif m["hex"]:
            piece = chr(int(m["hex"], 16))
        else:
            piece = m["kw"] or m["char"]
        if parts and isinstance(parts[-1], str):
            parts[-1] += piece
        else:
            parts.append(piece)
    # Kibana trims the literal (escaped whitespace included), not across a wildcard.
    if parts and isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    kept = tuple(p for p in parts if p != "")
    return Text(kept, quoted=False, position=token.start_pos or 0)


def _decode_quoted(token: Token) -> Text:
    out: list[str] = []
    for m in _QUOTED_PIECE.finditer(str(token)[1:-1]):
        if m["ws"]:
            out.append(_WHITESPACE[m["ws"]])
        elif m["hex"]:
            out.append(chr(int(m["hex"], 16)))
        else:
            out.append(m["esc"] or m["char"])
    return Text(("".join(out),), quoted=True, position=token.start_pos or 0)


def _literal(tree: Tree[Token]) -> Text:
    token = tree.children[0]
    assert isinstance(token, Token)
    return _decode_quoted(token) if token.type == "QUOTED" else _decode_unquoted(token)


def _depth(tree: Tree[Token]) -> int:
    deepest = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in ("group", "value_group"):
            depth += 1
            deepest = max(deepest, depth)
        stack.extend((c, depth) for c in node.children if isinstance(c, Tree))
    return deepest


def _values(field: Text, tree: Tree[Token] | Token) -> Node:
    """A value list `(a or b and not c)` under `field`, built without recursion."""
    # Post-order walk: each tree's children are built before the tree itself.
    built: dict[int, Node] = {}
    stack: list[tuple[Tree[Token], bool]] = []
    assert isinstance(tree, Tree)
    stack.append((tree, False))
    while stack:
        node, ready = stack.pop()
        kids = [c for c in node.children if isinstance(c, Tree)]
        if node.data != "literal" and not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        if node.data == "literal":
            value = _literal(node)
            built[id(node)] = Exists(field) if value.star else Is(field, value)
        elif node.data == "values_or":
            built[id(node)] = _flat(Or, [built[id(c)] for c in kids])
        elif node.data == "values_and":
            built[id(node)] = _flat(And, [built[id(c)] for c in kids])
        elif node.data == "values_not":
            built[id(node)] = Not(built[id(kids[0])])
        else:  # value_group
            built[id(node)] = built[id(kids[0])]
    return built[id(tree)]


def _flat(kind: type[And] | type[Or], items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    return kind(tuple(items))


def _build(tree: Tree[Token]) -> Node:
    built: dict[int, Node] = {}
    stack: list[tuple[Tree[Token], bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        data = node.data
        kids = [c for c in node.children if isinstance(c, Tree)]
        if data in ("or_query", "and_query", "not_", "group", "start") and not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in kids)
            continue
        if data == "start":
            built[id(node)] = built[id(kids[0])] if kids else MatchAll()
        elif data == "or_query":
            built[id(node)] = _flat(Or, [built[id(c)] for c in kids])
        elif data == "and_query":
            built[id(node)] = _flat(And, [built[id(c)] for c in kids])
        elif data == "not_":
            built[id(node)] = Not(built[id(kids[0])])
        elif data == "group":
            built[id(node)] = built[id(kids[0])]
        elif data == "free_value":
            value = _literal(kids[0])
            built[id(node)] = MatchAll() if value.star else Is(None, value)
        elif data == "field_range":
            op = next(str(c).strip() for c in node.children if isinstance(c, Token) and c.type == "RANGE")
            built[id(node)] = Range(_literal(kids[0]), op, _literal(kids[1]))
        elif data == "field_value":
            field = _literal(kids[0])
            target = kids[1]
            if target.data == "literal":
                value = _literal(target)
                if value.star:
                    built[id(node)] = MatchAll() if field.star else Exists(field)
                else:
                    built[id(node)] = Is(field, value)
            else:
                built[id(node)] = _values(field, target)
        else:  # pragma: no cover - the grammar has no other rule
            raise KqlError(f"unsupported construct {data}", 0)
    return built[id(tree)]


def _syntax_error(text: str, exc: lark.exceptions.UnexpectedInput) -> KqlError:
    if isinstance(exc, lark.exceptions.UnexpectedToken) and exc.token.type == "$END":
        position = len(text)
    elif isinstance(exc, lark.exceptions.UnexpectedToken):
        position = exc.token.start_pos or 0
    else:
        position = getattr(exc, "pos_in_stream", None) or 0
    position = min(position, len(text))
    if position < len(text) and text[position] == "{":
        return KqlError("nested field queries field:{...} are not supported yet", position)
    expected = sorted({_EXPECTED_WORDS.get(name, name) for name in (getattr(exc, "expected", None) or ())
                       if not name.startswith("_")})
    found = "the end of the query" if position >= len(text) else repr(text[position:position + 10])
    message = f"unexpected {found}"
    if expected:
        message += ": expected " + ", ".join(expected)
    return KqlError(message, position)


def parse(text: str) -> Node:
    """The query tree of `text`. Raises `KqlError` with a position and a readable message."""
    if len(text) > MAX_QUERY_LENGTH:
        raise KqlError(f"query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    if "\x00" in text:
        raise KqlError("NUL character in query", text.index("\x00"))
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    if _depth(tree) > MAX_DEPTH:
        raise KqlError(f"more than {MAX_DEPTH} nested parentheses", 0)
    return _build(tree)
