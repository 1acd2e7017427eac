"""A small, safe expression language for declared rules, parsed into Polars expressions.

Rules never reach ``eval``: the text is tokenised and parsed here by recursive descent, and only the
constructs below can be built. Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := sum [ ("=="|"!="|"<"|"<="|">"|">=") sum
                       | ["not"] "in" "[" literal ("," literal)* "]"
                       | "is" ["not"] "null" ]
    sum        := product (("+"|"-") product)*
    product    := unary (("*"|"/"|"%") unary)*
    unary      := "-" unary | primary
    primary    := number | 'text' | "text" | true | false | null
                | name | `any name` | function "(" [expr ("," expr)*] ")" | "(" expr ")"

A *name* is a column (letters, digits, underscore; Chinese letters too); a column whose name has
spaces or symbols is written in backticks. ``=`` is accepted for ``==`` and ``<>`` for ``!=``.

Functions: ``len(s)``, ``lower(s)``, ``upper(s)``, ``strip(s)``, ``matches(s, 'regex')`` (whole
value), ``contains(s, 'text')``, ``startswith(s, 'text')``, ``endswith(s, 'text')``, ``abs(x)``,
``round(x, digits)``, ``coalesce(a, b, ...)``, ``least(a, b, ...)``, ``greatest(a, b, ...)``,
``if(condition, a, b)``, ``date(x)`` (a date from text or a date-time; ``date('2024-01-31')`` is a
literal), ``today()`` (the profile's as-of date), ``year(d)``, ``month(d)``, ``day(d)``,
``days_between(a, b)`` (b minus a, in days).

A rule row whose result is null (for example a comparison with a missing value) is not evaluated:
missing values are the completeness dimension's business.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from gaodi.engines.dataquality.errors import RuleError

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>`[^`]+`)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>==|!=|<>|<=|>=|<|>|=|\+|-|\*|/|%|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "is", "null", "true", "false"}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, quoted, op, keyword, end
    text: str
    pos: int


def tokenize(source: str, rule: str = "") -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m:
            raise RuleError(f"rule {rule!r}: unexpected character {source[pos]!r} at position {pos + 1}")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "name" and text.lower() in KEYWORDS:
            tokens.append(Token("keyword", text.lower(), pos))
        elif kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def _unescape(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


# --- AST -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Column(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


class Parser:
    def __init__(self, source: str, rule: str = "") -> None:
        self.source = source
        self.rule = rule
        self.tokens = tokenize(source, rule)
        self.i = 0

    def error(self, message: str, token: Token | None = None) -> RuleError:
        t = token or self.peek()
        where = "at the end" if t.kind == "end" else f"at position {t.pos + 1} ({t.text!r})"
        return RuleError(f"rule {self.rule!r}: {message} {where}: {self.source}")

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        t = self.peek()
        if t.kind == kind and (text is None or t.text == text):
            self.i += 1
            return t
        return None

    def expect(self, kind: str, text: str) -> Token:
        t = self.accept(kind, text)
        if t is None:
            raise self.error(f"expected {text!r}")
        return t

    def parse(self) -> Node:
        node = self.or_()
        if self.peek().kind != "end":
            raise self.error("unexpected")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while (t := self.accept("keyword", "or")) is not None:
            node = Binary(t.pos, "or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while (t := self.accept("keyword", "and")) is not None:
            node = Binary(t.pos, "and", node, self.not_())
        return node

    def not_(self) -> Node:
        if (t := self.accept("keyword", "not")) is not None:
            return Unary(t.pos, "not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.sum_()
        t = self.peek()
        if t.kind == "op" and t.text in ("==", "!=", "<>", "<", "<=", ">", ">=", "="):
            self.take()
            op = {"=": "==", "<>": "!="}.get(t.text, t.text)
            return Binary(t.pos, op, node, self.sum_())
        if t.kind == "keyword" and t.text == "not":
            self.take()
            self.expect("keyword", "in")
            return InList(t.pos, node, self.literal_list(), True)
        if t.kind == "keyword" and t.text == "in":
            self.take()
            return InList(t.pos, node, self.literal_list(), False)
        if t.kind == "keyword" and t.text == "is":
            self.take()
            negated = self.accept("keyword", "not") is not None
            self.expect("keyword", "null")
            return IsNull(t.pos, node, negated)
        return node

    def literal_list(self) -> tuple[Any, ...]:
        self.expect("op", "[")
        values: list[Any] = []
        if self.accept("op", "]"):
            return ()
        while True:
            node = self.unary()
            if isinstance(node, Unary) and node.op == "-" and isinstance(node.operand, Literal):
                node = Literal(node.pos, -node.operand.value)
            if not isinstance(node, Literal):
                raise self.error("a list after 'in' holds only literal values")
            values.append(node.value)
            if self.accept("op", "]"):
                return tuple(values)
            self.expect("op", ",")

    def sum_(self) -> Node:
        node = self.product()
        while (t := self.peek()).kind == "op" and t.text in ("+", "-"):
            self.take()
            node = Binary(t.pos, t.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (t := self.peek()).kind == "op" and t.text in ("*", "/", "%"):
            self.take()
            node = Binary(t.pos, t.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if (t := self.accept("op", "-")) is not None:
            return Unary(t.pos, "-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        t = self.take()
        if t.kind == "number":
            value: Any = float(t.text) if any(c in t.text for c in ".eE") else int(t.text)
            return Literal(t.pos, value)
        if t.kind == "string":
            return Literal(t.pos, _unescape(t.text))
        if t.kind == "keyword" and t.text in ("true", "false", "null"):
            return Literal(t.pos, {"true": True, "false": False, "null": None}[t.text])
        if t.kind == "quoted":
            return Column(t.pos, t.text[1:-1])
        if t.kind == "name":
            if self.accept("op", "("):
                args: list[Node] = []
                if not self.accept("op", ")"):
                    while True:
                        args.append(self.or_())
                        if self.accept("op", ")"):
                            break
                        self.expect("op", ",")
                return Call(t.pos, t.text.lower(), tuple(args))
            return Column(t.pos, t.text)
        if t.kind == "op" and t.text == "(":
            node = self.or_()
            self.expect("op", ")")
            return node
        raise self.error("expected a value, a column or '('", t)


def parse(source: str, rule: str = "") -> Node:
    if not source.strip():
        raise RuleError(f"rule {rule!r}: the expression is empty")
    return Parser(source, rule).parse()


def columns_of(node: Node) -> set[str]:
    if isinstance(node, Column):
        return {node.name}
    if isinstance(node, Unary | IsNull | InList):
        return columns_of(node.operand)
    if isinstance(node, Binary):
        return columns_of(node.left) | columns_of(node.right)
    if isinstance(node, Call):
        out: set[str] = set()
        for a in node.args:
            out |= columns_of(a)
        return out
    return set()


# --- compilation to Polars -------------------------------------------------------------------------

_COMPARE: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "%": lambda a, b: a % b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b,
}
_ARITY = {
    "len": (1, 1), "lower": (1, 1), "upper": (1, 1), "strip": (1, 1), "matches": (2, 2), "contains": (2, 2),
    "startswith": (2, 2), "endswith": (2, 2), "abs": (1, 1), "round": (1, 2), "coalesce": (1, 99),
    "least": (1, 99), "greatest": (1, 99), "if": (3, 3), "date": (1, 1), "today": (0, 0), "year": (1, 1),
    "month": (1, 1), "day": (1, 1), "days_between": (2, 2),
}


class Compiler:
    def __init__(self, columns: Sequence[str] | Mapping[str, pl.DataType], *, rule: str = "", source: str = "",
                 today: date | None = None) -> None:
        self.columns = list(columns)
        self.schema: Mapping[str, pl.DataType] = columns if isinstance(columns, Mapping) else {}
        self.rule = rule
        self.source = source
        self.today = today or date.today()

    def error(self, node: Node, message: str) -> RuleError:
        return RuleError(f"rule {self.rule!r}: {message} (at position {node.pos + 1}): {self.source}")

    def compile(self, node: Node) -> pl.Expr:
        if isinstance(node, Literal):
            return pl.lit(node.value)
        if isinstance(node, Column):
            if node.name not in self.columns:
                close = difflib.get_close_matches(node.name, self.columns, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else f"; columns: {', '.join(self.columns[:20])}"
                raise self.error(node, f"there is no column {node.name!r}{hint}")
            return pl.col(node.name)
        if isinstance(node, Unary):
            operand = self.compile(node.operand)
            return operand.not_() if node.op == "not" else -operand
        if isinstance(node, Binary):
            return _COMPARE[node.op](self.compile(node.left), self.compile(node.right))
        if isinstance(node, InList):
            expr = self.compile(node.operand).is_in(list(node.values))
            return expr.not_() if node.negated else expr
        if isinstance(node, IsNull):
            inner = self.compile(node.operand)
            return inner.is_not_null() if node.negated else inner.is_null()
        if isinstance(node, Call):
            return self.call(node)
        raise self.error(node, "unsupported expression")

    def _as_date(self, node: Node, expr: pl.Expr) -> pl.Expr:
        """A date from a column of dates, date-times or text (YYYY-MM-DD and similar), by its type."""
        dtype: pl.DataType | None = None
        if isinstance(node, Column):
            dtype = self.schema.get(node.name)
        elif isinstance(node, Call) and node.name in ("date", "today"):
            return expr
        if dtype == pl.String:
            return expr.str.to_date(strict=False)
        if isinstance(dtype, pl.Datetime):
            return expr.dt.date()
        if dtype == pl.Date:
            return expr
        return expr.cast(pl.Date, strict=False)

    def _text_arg(self, node: Call, index: int) -> str:
        arg = node.args[index]
        if not isinstance(arg, Literal) or not isinstance(arg.value, str):
            raise self.error(node, f"argument {index + 1} of {node.name}() must be a quoted text")
        return arg.value

    def call(self, node: Call) -> pl.Expr:
        name = node.name
        if name not in _ARITY:
            raise self.error(node, f"unknown function {name}(); functions: {', '.join(sorted(_ARITY))}")
        low, high = _ARITY[name]
        if not low <= len(node.args) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise self.error(node, f"{name}() takes {want} argument(s), got {len(node.args)}")
        if name == "today":
            return pl.lit(self.today)
        if name == "date" and isinstance(node.args[0], Literal):
            text = self._text_arg(node, 0)
            try:
                return pl.lit(date.fromisoformat(text))
            except ValueError:
                raise self.error(node, f"{text!r} is not a date (YYYY-MM-DD)") from None
        if name in ("matches", "contains", "startswith", "endswith"):
            target = self.compile(node.args[0])
            text = self._text_arg(node, 1)
            if name == "matches":
                try:
                    pl.select(pl.lit("").str.contains(f"^(?:{text})$"))
                except pl.exceptions.PolarsError as exc:
                    raise self.error(node, f"invalid regular expression {text!r}: {str(exc).splitlines()[0]}") from None
                return target.str.contains(f"^(?:{text})$")
            if name == "contains":
                return target.str.contains(text, literal=True)
            return target.str.starts_with(text) if name == "startswith" else target.str.ends_with(text)
        args = [self.compile(a) for a in node.args]
        if name == "len":
            return args[0].str.len_chars()
        if name == "lower":
            return args[0].str.to_lowercase()
        if name == "upper":
            return args[0].str.to_uppercase()
        if name == "strip":
            return args[0].str.strip_chars()
        if name == "abs":
            return args[0].abs()
        if name == "round":
            digits = 0
            if len(node.args) == 2:
                d = node.args[1]
                if not isinstance(d, Literal) or not isinstance(d.value, int):
                    raise self.error(node, "round() takes a whole number of digits")
                digits = d.value
            return args[0].round(digits)
        if name == "coalesce":
            return pl.coalesce(args)
        if name == "least":
            return pl.min_horizontal(args)
        if name == "greatest":
            return pl.max_horizontal(args)
        if name == "if":
            return pl.when(args[0]).then(args[1]).otherwise(args[2])
        if name == "date":
            return self._as_date(node.args[0], args[0])
        if name in ("year", "month", "day"):
            as_date = self._as_date(node.args[0], args[0])
            return {"year": as_date.dt.year, "month": as_date.dt.month, "day": as_date.dt.day}[name]()
        # days_between
        a = self._as_date(node.args[0], args[0])
        b = self._as_date(node.args[1], args[1])
        return (b - a).dt.total_days()


@dataclass(frozen=True)
class CompiledRule:
    expr: pl.Expr
    columns: frozenset[str]


def compile_rule(source: str, columns: Sequence[str] | Mapping[str, pl.DataType], *, rule: str = "",
                 today: date | None = None) -> CompiledRule:
    """Parse and compile one rule; unknown columns and functions are errors naming the rule.

    `columns` is the table's column names, or better its schema (name → Polars type), which lets
    date functions read text columns as dates.
    """
    node = parse(source, rule)
    compiler = Compiler(columns, rule=rule, source=source, today=today)
    return CompiledRule(compiler.compile(node), frozenset(columns_of(node)))
