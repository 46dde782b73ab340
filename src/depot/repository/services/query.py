"""Parse the subset of Elasticsearch's query-string syntax that Zenodo clients send (pure).

Supported: ``field:value``, ``field:"a phrase"``, bare words and phrases, ``AND``/``OR``/``NOT``
(``AND`` is implied between terms), ``-term``/``+term``, parentheses, ranges ``field:[a TO b]`` and
``field:{a TO b}`` (``*`` for an open end), and backslash escapes (``10.5072\\/depot.1``).
A depositor batches probes as ``alternate.identifier:"a" OR alternate.identifier:"b"``.

A query may nest ``MAX_DEPTH`` levels and hold ``MAX_TERMS`` terms: the parser recurses once a level, and
every term becomes a subquery of one SQL statement (SQLite refuses an expression tree deeper than 1,000).
Elasticsearch's own ceiling, which Zenodo's search sits on, is 1,024 clauses (``indices.query.bool.
max_clause_count``); the depositor sends 20 terms an OR query.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_DEPTH = 32
MAX_TERMS = 250


class QuerySyntaxError(ValueError):
    """Raised when a query string cannot be parsed, or passes a limit; the message says where."""


@dataclass(frozen=True)
class Term:
    field: str | None
    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    field: str
    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Term | Range | And | Or | Not

_SPECIAL = set('()"[]{}:')


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Split into (kind, text) tokens: word, phrase, ( ) [ ] { } : - +."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise QuerySyntaxError(f"unterminated phrase starting at position {i}")
            tokens.append(("phrase", "".join(buf)))
            i = j + 1
        elif ch in _SPECIAL or (ch in "+-" and (not tokens or tokens[-1][0] in {"(", "op"} or text[i - 1].isspace())):
            tokens.append((ch, ch))
            i += 1
        else:
            buf = []
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            word = "".join(buf)
            tokens.append(("op", word) if word in {"AND", "OR", "NOT", "&&", "||"} else ("word", word))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0
        self.terms = 0

    def count(self, node: Term | Range) -> Term | Range:
        """Count a term: past MAX_TERMS the query is refused."""
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QuerySyntaxError(f"the query has more terms than the limit of {MAX_TERMS}")
        return node

    def descend(self) -> None:
        """Count a level of nesting (a group or a negation): past MAX_DEPTH the query is refused."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(f"the query nests deeper than the limit of {MAX_DEPTH} levels")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind is not None and token[0] != kind):
            raise QuerySyntaxError(f"expected {kind or 'a term'} at token {self.pos + 1}")
        self.pos += 1
        return token

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while (t := self.peek()) is not None and t[0] == "op" and t[1] in {"OR", "||"}:
            self.pos += 1
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while (t := self.peek()) is not None and t[0] != ")" and not (t[0] == "op" and t[1] in {"OR", "||"}):
            if t[0] == "op" and t[1] in {"AND", "&&"}:
                self.pos += 1
            items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_unary(self) -> Node:
        t = self.peek()
        if t is not None and ((t[0] == "op" and t[1] == "NOT") or t[0] == "-"):
            self.pos += 1
            self.descend()
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        if t is not None and t[0] == "+":
            self.pos += 1
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind, text = self.take()
        if kind == "(":
            self.descend()
            node = self.parse_or()
            self.take(")")
            self.depth -= 1
            return node
        if kind == "phrase":
            return self.count(Term(None, text, phrase=True))
        if kind != "word":
            raise QuerySyntaxError(f"unexpected {text!r} at token {self.pos}")
        if (t := self.peek()) is not None and t[0] == ":":
            self.pos += 1
            return self.parse_value(text)
        return self.count(Term(None, text))

    def parse_value(self, field: str) -> Node:
        kind, text = self.take()
        if kind in {"[", "{"}:
            low = self._range_bound({"TO"})
            self.pos += 1  # "TO"
            high = self._range_bound({"]", "}"})
            close = self.take()[0]
            return self.count(Range(field, None if low == "*" else low, None if high == "*" else high, kind == "[",
                                    close == "]"))
        if kind == "phrase":
            return self.count(Term(field, text, phrase=True))
        if kind == "(":
            self.descend()
            inner = self.parse_or()
            self.take(")")
            self.depth -= 1
            return _with_field(inner, field)
        if kind != "word":
            raise QuerySyntaxError(f"missing value after {field}:")
        return self.count(Term(field, text))

    def _range_bound(self, stop: set[str]) -> str:
        # A bound may hold colons (timestamps), which the tokenizer split off: glue them back.
        parts: list[str] = []
        while (t := self.peek()) is not None and t[1] not in stop:
            parts.append(self.take()[1])
        if t is None or not parts:
            raise QuerySyntaxError("a range needs the form [low TO high]")
        return "".join(parts)


def _with_field(node: Node, field: str) -> Node:
    if isinstance(node, Term):
        return Term(field, node.value, node.phrase) if node.field is None else node
    if isinstance(node, And):
        return And(tuple(_with_field(i, field) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(_with_field(i, field) for i in node.items))
    if isinstance(node, Not):
        return Not(_with_field(node.item, field))
    return node


def parse(text: str) -> Node | None:
    """Parse ``text``; an empty query gives None (match everything)."""
    tokens = _tokenize(text or "")
    if not tokens:
        return None
    parser = _Parser(tokens)
    node = parser.parse_or()
    if parser.peek() is not None:
        raise QuerySyntaxError(f"unexpected {parser.peek()[1]!r} at token {parser.pos + 1}")  # type: ignore[index]
    return node
