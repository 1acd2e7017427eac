"""The rule language (parsed, never eval'd) and the TOML rules file."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from gaodi.engines.dataquality import RuleError, load_config, parse_config
from gaodi.engines.dataquality.expr import compile_rule, parse

FRAME = pl.DataFrame({
    "a": [1, 2, 3, None],
    "b": [10.0, 20.0, 5.0, 1.0],
    "name": ["Zhang", "li", None, "wang"],
    "城市": ["上海", "北京", "上海", "深圳"],
    "start date": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1)],
    "end": ["2024-01-10", "2024-01-20", "2024-03-02", "bad"],
})


def evaluate(source: str) -> list:
    rule = compile_rule(source, dict(FRAME.schema), rule="t", today=date(2024, 6, 1))
    return FRAME.with_columns(rule.expr.alias("__r"))["__r"].to_list()


@pytest.mark.parametrize("source, expected", [
    ("a + 1 * 2 == 3", [True, False, False, None]),
    ("(a + 1) * 2 >= 6", [False, True, True, None]),
    ("-a < -1", [False, True, True, None]),
    ("b / 2 > a and not a == 3", [True, True, False, None]),
    ("a == 1 or b = 20", [True, True, False, None]),
    ("a % 2 <> 0", [True, False, True, None]),
    ("城市 in ['上海', \"北京\"]", [True, True, True, False]),
    ("a not in [1, -2, 3]", [False, True, False, None]),
    ("name is null", [False, False, True, False]),
    ("name is not null and len(name) >= 4", [True, False, False, True]),
    ("lower(name) == 'zhang' or upper(name) == 'LI'", [True, True, None, False]),
    ("matches(name, '[A-Z][a-z]+')", [True, False, None, False]),
    ("startswith(城市, '上') or endswith(城市, '京') or contains(城市, '圳')", [True, True, True, True]),
    ("coalesce(a, 0) >= 0 and abs(-b) == b and round(b / 3, 1) > 0", [True, True, True, True]),
    ("if(a > 1, 'big', 'small') == 'big'", [False, True, True, False]),
    ("greatest(a, 2) == 2 and least(b, 6) <= 6", [True, True, False, True]),
    ("`start date` < date('2024-02-15')", [True, True, False, False]),
    ("year(`start date`) == 2024 and month(`start date`) <= 3 and day(`start date`) == 1", [True, True, True, False]),
    ("days_between(`start date`, date(end)) >= 0", [True, False, True, None]),
    ("days_between(`start date`, today()) > 60", [True, True, True, True]),
    ("strip(' x ') == 'x' and true and not false", [True, True, True, True]),
])
def test_expressions_evaluate_like_sql(source, expected):
    assert evaluate(source) == expected


@pytest.mark.parametrize("source, message", [
    ("a >", "expected a value"),
    ("a == 1)", "unexpected at position 7"),
    ("(a == 1", "expected ')'"),
    ("a in [b]", "a list after 'in' holds only literal values"),
    ("__import__('os').system('echo hi')", "unexpected character '.'"),
    ("exec('1')", "unknown function exec()"),
    ("len(a, b)", "len() takes 1 argument(s), got 2"),
    ("matches(name, b)", "argument 2 of matches() must be a quoted text"),
    ("matches(name, '[')", "invalid regular expression"),
    ("nme == 'x'", "there is no column 'nme'; did you mean name"),
    ("a == 1 ; b", "unexpected character ';'"),
    ("date('2024-13-01') > `start date`", "is not a date"),
    ("", "the expression is empty"),
])
def test_bad_expressions_name_the_rule_and_position(source, message):
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        compile_rule(source, FRAME.columns, rule="t")


def test_the_parser_never_evaluates_python():
    # dunder names are just (unknown) columns, and attribute access does not tokenise
    node = parse("__class__ == 1")
    assert type(node).__name__ == "Binary"
    with pytest.raises(RuleError, match="there is no column '__class__'"):
        compile_rule("__class__ == 1", FRAME.columns)


def test_rules_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("""
[table]
key = "id"
date_column = "d"
max_age = "2w"
as_of = 2024-06-30

[weights]
accuracy = 3

[columns.id]
checksum = "uscc"

[columns.level]
allowed = ["一般", "重要", "核心"]

[[rule]]
name = "positive"
expr = "x > 0"
""", encoding="utf-8")
    config = load_config(path)
    assert config.key == ("id",) and config.max_age.days == 14 and config.as_of.year == 2024
    assert config.weights["accuracy"] == 3 and config.weights["timeliness"] == 1
    assert config.columns["level"].allowed == ("一般", "重要", "核心")
    assert config.rules[0].name == "positive" and config.rules[0].dimension is None


@pytest.mark.parametrize("text, message", [
    ("[tabel]\nkey = 1", r"unknown key\(s\) tabel"),
    ("[table]\nkeys = ['a']", r"unknown key\(s\) keys"),
    ("[table]\ndate_column = 'd'", "timeliness needs both date_column and max_age"),
    ("[table]\ndate_column = 'd'\nmax_age = 'soon'", "'soon' is not a duration"),
    ("[weights]\nspeed = 1", r"unknown key\(s\) speed"),
    ("[weights]\naccuracy = -1", "a weight cannot be negative"),
    ("[columns.a]\nchecksum = 'crc'", "'crc' is not one of resident_id, uscc, luhn"),
    ("[columns.a]\ntype = 'float'", "'float' is not one of integer"),
    ("[[rule]]\nname = 'x'", "expr is required"),
    ("[[rule]]\nexpr = 'a > 1'\ndimension = 'beauty'", "dimension 'beauty' is not one of"),
    ("[[rule]]\nname='r'\nexpr='a>1'\n[[rule]]\nname='r'\nexpr='a<1'", "the name 'r' is used twice"),
    ("this is = not toml =", "not valid TOML"),
])
def test_bad_rules_files_are_clear_errors(text, message):
    with pytest.raises(RuleError, match=message):
        parse_config(text)


def test_missing_rules_file(tmp_path):
    with pytest.raises(RuleError, match="no such rules file"):
        load_config(tmp_path / "none.toml")
