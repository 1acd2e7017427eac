"""Profile configuration: declared rules, column expectations, key, timeliness and weights (TOML).

Example ``rules.toml``::

    [table]
    key = ["order_id"]              # key uniqueness (accuracy)
    date_column = "updated_at"      # timeliness: share of rows updated within max_age of as_of
    max_age = "30d"                 # s, min, h, d, w (e.g. "90d", "12h", "2w")
    as_of = "2024-06-30"            # default: now

    [weights]                       # default 1 each; 0 leaves a dimension out of the score
    completeness = 2
    timeliness = 0.5

    [columns.mobile]
    pattern = '1[3-9]\\d{9}'        # the whole value must match (normativity)
    [columns.id_number]
    pattern = '\\d{17}[\\dX]'
    checksum = "resident_id"        # resident_id, uscc or luhn (accuracy)
    [columns.age]
    type = "integer"                # integer, decimal, boolean, date, datetime, text (normativity)
    min = 0                         # range and allowed values (accuracy)
    max = 150
    [columns.level]
    allowed = ["一般", "重要", "核心"]
    [columns.remark]
    optional = true                 # not counted in completeness

    [[rule]]
    name = "end after start"
    expr = "end_date >= start_date" # see gaodi.engines.dataquality.expr
    dimension = "consistency"       # default: consistency if it names two or more columns, else accuracy

Unknown keys are errors (a typo must not silently switch a check off).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from gaodi.engines.dataquality.errors import RuleError

DIMENSIONS = ("normativity", "completeness", "accuracy", "consistency", "timeliness", "accessibility")
DIMENSION_NAMES_ZH = {
    "normativity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
}
COLUMN_TYPES = ("integer", "decimal", "boolean", "date", "datetime", "text")
CHECKSUMS = ("resident_id", "uscc", "luhn")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    pattern: str | None = None
    checksum: str | None = None
    type: str | None = None
    format: str | None = None  # date/datetime format (strftime) for declared types
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    optional: bool = False


@dataclass(frozen=True)
class RuleSpec:
    name: str
    expr: str
    dimension: str | None = None


@dataclass(frozen=True)
class ProfileConfig:
    key: tuple[str, ...] = ()
    date_column: str | None = None
    max_age: timedelta | None = None
    as_of: datetime | None = None
    weights: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 1.0))
    columns: Mapping[str, ColumnSpec] = field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = ()
    exact_distinct_limit: int = 100_000
    top_values: int = 10


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|min|mins|minutes?|h|hours?|d|days?|w|weeks?)?\s*$", re.I)


def parse_max_age(value: Any, where: str = "max_age") -> timedelta:
    """A duration: a number of days, or text such as "30d", "12h", "2w", "90 days"."""
    if isinstance(value, bool):
        raise RuleError(f"{where}: expected a duration such as \"30d\", got {value!r}")
    if isinstance(value, int | float):
        return timedelta(days=float(value))
    m = _AGE.match(str(value))
    if not m:
        raise RuleError(f"{where}: {value!r} is not a duration", hint='write e.g. "30d", "12h", "2w"')
    amount = float(m.group(1))
    unit = (m.group(2) or "d").lower()
    if unit.startswith("s"):
        return timedelta(seconds=amount)
    if unit.startswith("min"):
        return timedelta(minutes=amount)
    if unit.startswith("h"):
        return timedelta(hours=amount)
    if unit.startswith("w"):
        return timedelta(weeks=amount)
    return timedelta(days=amount)


def _as_of(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise RuleError(f"table.as_of: {value!r} is not a date", hint="write YYYY-MM-DD") from None


def _check_keys(section: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise RuleError(f"{where}: unknown key(s) {', '.join(unknown)}", hint="allowed: " + ", ".join(sorted(allowed)))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}: expected a number, got {value!r}")
    return float(value)


def config_from_dict(data: Mapping[str, Any], *, source: str = "rules") -> ProfileConfig:
    _check_keys(data, {"table", "weights", "columns", "rule", "rules"}, source)
    table = data.get("table", {})
    if not isinstance(table, dict):
        raise RuleError(f"{source}: [table] must be a table")
    _check_keys(table, {"key", "date_column", "max_age", "as_of", "exact_distinct_limit", "top_values"}, "[table]")
    key = table.get("key", [])
    if isinstance(key, str):
        key = [key]
    if not isinstance(key, list) or not all(isinstance(k, str) for k in key):
        raise RuleError("table.key: expected a column name or a list of column names")
    date_column = table.get("date_column")
    max_age = parse_max_age(table["max_age"], "table.max_age") if "max_age" in table else None
    if (date_column is None) != (max_age is None):
        raise RuleError("[table]: timeliness needs both date_column and max_age")
    weights = dict.fromkeys(DIMENSIONS, 1.0)
    raw_weights = data.get("weights", {})
    if not isinstance(raw_weights, dict):
        raise RuleError(f"{source}: [weights] must be a table")
    _check_keys(raw_weights, set(DIMENSIONS), "[weights]")
    for name, value in raw_weights.items():
        w = _number(value, f"weights.{name}")
        if w < 0:
            raise RuleError(f"weights.{name}: a weight cannot be negative")
        weights[name] = w
    columns: dict[str, ColumnSpec] = {}
    raw_columns = data.get("columns", {})
    if not isinstance(raw_columns, dict):
        raise RuleError(f"{source}: [columns.NAME] entries must be tables")
    for name, spec in raw_columns.items():
        where = f"columns.{name}"
        if not isinstance(spec, dict):
            raise RuleError(f"{where}: must be a table")
        _check_keys(spec, {"pattern", "checksum", "type", "format", "min", "max", "allowed", "optional"}, where)
        if spec.get("checksum") is not None and spec["checksum"] not in CHECKSUMS:
            raise RuleError(f"{where}.checksum: {spec['checksum']!r} is not one of {', '.join(CHECKSUMS)}")
        if spec.get("type") is not None and spec["type"] not in COLUMN_TYPES:
            raise RuleError(f"{where}.type: {spec['type']!r} is not one of {', '.join(COLUMN_TYPES)}")
        allowed = spec.get("allowed")
        if allowed is not None and not isinstance(allowed, list):
            raise RuleError(f"{where}.allowed: expected a list")
        pattern = spec.get("pattern")
        if pattern is not None and not isinstance(pattern, str):
            raise RuleError(f"{where}.pattern: expected a regular expression in quotes")
        columns[name] = ColumnSpec(
            name=name, pattern=pattern, checksum=spec.get("checksum"), type=spec.get("type"),
            format=spec.get("format"),
            min=_number(spec["min"], f"{where}.min") if "min" in spec else None,
            max=_number(spec["max"], f"{where}.max") if "max" in spec else None,
            allowed=tuple(allowed) if allowed is not None else None, optional=bool(spec.get("optional", False)),
        )
    rules: list[RuleSpec] = []
    raw_rules = data.get("rule", data.get("rules", []))
    if not isinstance(raw_rules, list):
        raise RuleError(f"{source}: rules are written as [[rule]] entries")
    seen: set[str] = set()
    for i, rule in enumerate(raw_rules, start=1):
        where = f"rule #{i}"
        if not isinstance(rule, dict):
            raise RuleError(f"{where}: must be a table with name and expr")
        _check_keys(rule, {"name", "expr", "dimension"}, where)
        if not isinstance(rule.get("expr"), str):
            raise RuleError(f"{where}: expr is required (the rule's expression, in quotes)")
        name = str(rule.get("name") or f"rule {i}")
        if name in seen:
            raise RuleError(f"{where}: the name {name!r} is used twice")
        seen.add(name)
        dimension = rule.get("dimension")
        if dimension is not None and dimension not in DIMENSIONS:
            raise RuleError(f"{where}: dimension {dimension!r} is not one of {', '.join(DIMENSIONS)}")
        rules.append(RuleSpec(name, rule["expr"], dimension))
    return ProfileConfig(
        key=tuple(key), date_column=date_column, max_age=max_age,
        as_of=_as_of(table["as_of"]) if "as_of" in table else None, weights=weights, columns=columns,
        rules=tuple(rules), exact_distinct_limit=int(table.get("exact_distinct_limit", 100_000)),
        top_values=int(table.get("top_values", 10)),
    )


def parse_config(text: str, *, source: str = "rules") -> ProfileConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: not valid TOML: {exc}") from None
    return config_from_dict(data, source=source)


def load_config(path: str | Path) -> ProfileConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuleError("no such rules file", path=str(p)) from None
    except UnicodeDecodeError:
        raise RuleError("the rules file is not UTF-8", path=str(p)) from None
    return parse_config(text, source=str(p))
