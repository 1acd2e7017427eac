"""The quality profile: each dimension's ratio exactly as documented, streaming equals one pass."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest

from gaodi.engines.dataquality import (
    ProfileConfig,
    ReadOptions,
    RuleError,
    parse_config,
    profile_file,
    profile_frame,
)

TABLE = """\
id,name,mobile,age,start,end,updated
1,张三,13812345678,30,2024-01-01,2024-02-01,2024-06-01
2,李四,13912345678,-5,2024-01-05,2024-01-01,2024-05-20
3,  ,1381234567,40,2024-02-01,2024-03-01,2023-01-01
3,王五,13712345678,n/a,2024-03-01,2024-03-05,2024-05-30
5,赵六,13612345678,50,2024-03-01,2024-03-02,
5,赵六,13612345678,50,2024-03-01,2024-03-02,
"""

RULES = r"""
[table]
key = ["id"]
date_column = "updated"
max_age = "30d"
as_of = "2024-06-10"

[weights]
timeliness = 2

[columns.mobile]
pattern = '1[3-9]\d{9}'

[columns.age]
type = "integer"
min = 0
max = 120

[[rule]]
name = "end after start"
expr = "end >= start"
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(TABLE, encoding="utf-8")
    return path


def ratio(profile, dimension):
    return profile.dimensions[dimension].ratio


@pytest.mark.parametrize("chunk", [16 << 20, 1024])
def test_every_dimension_is_the_documented_ratio(table, chunk):
    profile = profile_file(table, parse_config(RULES), options=ReadOptions(chunk_bytes=chunk))
    assert profile.rows == 6
    # completeness: 42 cells, a blank name and two empty dates are missing
    assert ratio(profile, "completeness") == pytest.approx(39 / 42)
    # normativity: types of id, age (n/a fails), start, end, updated (4 present); mobile pattern 5/6;
    # detected pattern (2-4 Han characters) on name 5/5
    assert ratio(profile, "normativity") == pytest.approx(37 / 39)
    # accuracy: age >= 0 (4/5, n/a not evaluated), age <= 120 (5/5), duplicate rows 5/6, key 4/6
    assert ratio(profile, "accuracy") == pytest.approx(18 / 22)
    # consistency: end >= start fails on data row 2
    assert ratio(profile, "consistency") == pytest.approx(5 / 6)
    # timeliness: within 30 days of 2024-06-10: 3 of the 4 dates
    assert ratio(profile, "timeliness") == pytest.approx(3 / 4)
    assert ratio(profile, "accessibility") == 1.0
    expected = (37 / 39 + 39 / 42 + 18 / 22 + 5 / 6 + 2 * 3 / 4 + 1) / 7
    assert profile.score == pytest.approx(expected)
    rule = next(r for r in profile.rules if r.name == "end after start")
    assert (rule.passed, rule.failed, rule.failing_rows, rule.dimension) == (5, 1, [2], "consistency")
    age = profile.column("age")
    assert (age.dtype, age.type_violations, age.type_violation_samples) == ("Int64", 1, ["n/a"])
    assert (age.min, age.max) == (-5, 50)
    mobile = profile.column("mobile")
    assert (mobile.pattern_source, mobile.pattern_matched, mobile.pattern_checked) == ("declared", 5, 6)
    assert mobile.pattern_failures == ["1381234567"]
    assert profile.column("name").pattern_name == "han_2_4"
    assert profile.column("name").missing == 1
    assert (profile.duplicate_rows, profile.duplicate_keys, profile.incomplete_keys) == (1, 2, 0)
    assert profile.column("start").dtype == "Date"
    assert profile.column("id").distinct == 4 and profile.column("id").top_values[0] == (3, 2)


def test_without_rules_unmeasured_dimensions_are_none_and_left_out_of_the_score(table):
    profile = profile_file(table)
    assert ratio(profile, "consistency") is None and ratio(profile, "timeliness") is None
    measured = [d.ratio for d in profile.dimensions.values() if d.ratio is not None]
    assert profile.score == pytest.approx(sum(measured) / len(measured))
    data = profile.to_dict()
    assert data["dimensions"]["timeliness"]["ratio"] is None
    assert data["dimensions"]["completeness"]["name_zh"] == "完整性"


def test_weights_zero_leave_a_dimension_out(table):
    config = parse_config(RULES.replace("timeliness = 2", "timeliness = 0\naccuracy = 0"))
    profile = profile_file(table, config)
    kept = [ratio(profile, d) for d in ("normativity", "completeness", "consistency", "accessibility")]
    assert profile.score == pytest.approx(sum(kept) / 4)


def test_numeric_statistics_merge_exactly_across_batches():
    rng = np.random.default_rng(3)
    values = rng.normal(50, 12, 10_007)
    frame = pl.DataFrame({"x": values, "n": rng.integers(-1000, 1000, 10_007)})
    profile = profile_frame(frame, batch_rows=997)
    x = profile.column("x")
    assert x.mean == pytest.approx(values.mean(), rel=1e-12)
    assert x.std == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert (x.min, x.max) == (values.min(), values.max())
    assert profile.column("n").distinct == len(np.unique(frame["n"].to_numpy()))


def test_nan_counts_as_missing():
    profile = profile_frame(pl.DataFrame({"x": [1.0, float("nan"), None, 4.0]}))
    x = profile.column("x")
    assert (x.missing, x.nan, x.mean) == (2, 1, 2.5)


def test_large_distinct_counts_switch_to_a_sketch_within_its_error():
    n = 300_000
    frame = pl.DataFrame({"u": np.arange(n), "s": pl.Series(np.arange(n) % 150_000).cast(pl.String)})
    profile = profile_frame(frame, ProfileConfig(exact_distinct_limit=10_000), batch_rows=50_000)
    u, s = profile.column("u"), profile.column("s")
    assert not u.distinct_exact and abs(u.distinct - n) / n < 0.03
    assert not s.distinct_exact and abs(s.distinct - 150_000) / 150_000 < 0.03
    exact = profile_frame(frame.head(5000), ProfileConfig(exact_distinct_limit=10_000))
    assert exact.column("u").distinct_exact and exact.column("u").distinct == 5000
    # just under the limit in one big batch: stays exact (the early switch to the sketch has a margin)
    near = pl.DataFrame({"v": np.arange(50_000) % 9_900})
    kept = profile_frame(near, ProfileConfig(exact_distinct_limit=10_000), batch_rows=50_000).column("v")
    assert kept.distinct_exact and kept.distinct == 9_900 and kept.top_values_exact


def test_top_values_are_exact_or_carry_an_error_bound():
    rng = np.random.default_rng(4)
    hot = ["热门"] * 30_000 + ["次热"] * 10_000
    rest = [f"v{i}" for i in rng.integers(0, 1_000_000, 60_000)]
    values = hot + rest
    rng.shuffle(values)
    frame = pl.DataFrame({"v": values})
    profile = profile_frame(frame, ProfileConfig(exact_distinct_limit=5_000), batch_rows=10_000)
    v = profile.column("v")
    (top, count), (second, count2) = v.top_values[:2]
    assert (top, second) == ("热门", "次热")
    assert count <= 30_000 <= count + v.top_values_error_bound
    assert count2 <= 10_000 <= count2 + v.top_values_error_bound
    small = profile_frame(frame.head(2000))
    assert small.column("v").top_values_exact


def test_duplicate_rows_across_batches_and_spilled_to_disk():
    rng = np.random.default_rng(5)
    base = pl.DataFrame({"a": rng.integers(0, 10**9, 20_000), "b": ["x"] * 20_000})
    frame = pl.concat([base, base.head(3_000), base.slice(10_000, 500)])
    config = ProfileConfig(key=("a",))
    from gaodi.engines.dataquality.profile import profile_batches

    batches = [frame.slice(i, 1000) for i in range(0, frame.height, 1000)]
    profile = profile_batches(batches, config, hash_memory_items=2_000)
    assert profile.duplicate_rows == 3_500
    expected_keys = frame.height - frame["a"].n_unique()
    assert profile.duplicate_keys == expected_keys


def test_key_with_nulls_counts_as_incomplete():
    frame = pl.DataFrame({"k1": [1, 1, None, 2], "k2": ["a", "a", "b", None]})
    profile = profile_frame(frame, ProfileConfig(key=("k1", "k2")))
    assert (profile.duplicate_keys, profile.incomplete_keys) == (1, 2)
    check = next(c for c in profile.dimensions["accuracy"].checks if c.name == "key uniqueness")
    assert (check.passed, check.evaluated) == (1, 4)


def test_checksums_feed_accuracy():
    frame = pl.DataFrame({"id": ["11010519491231002X", "110105194912310021", "11010519491231002X"]})
    profile = profile_frame(frame, as_of=datetime(2024, 1, 1))
    col = profile.column("id")
    assert (col.pattern_name, col.checksum_checked, col.checksum_passed) == ("resident_id", 3, 2)


def test_timeliness_on_datetime_and_text_columns():
    as_of = datetime(2024, 6, 10, 12)
    frame = pl.DataFrame({
        "t": [datetime(2024, 6, 10, 11), datetime(2024, 6, 9, 13), datetime(2024, 6, 9, 11), datetime(2024, 7, 1)],
        "s": ["2024-06-10 11:00:00", "not a date", "2024-06-01 00:00:00", None],
    })
    by_t = profile_frame(frame, ProfileConfig(date_column="t", max_age=parse_max_age("1d")), as_of=as_of)
    assert ratio(by_t, "timeliness") == 2 / 4  # the future one fails too
    by_s = profile_frame(frame, ProfileConfig(date_column="s", max_age=parse_max_age("12h")), as_of=as_of)
    assert ratio(by_s, "timeliness") == 1 / 3


def parse_max_age(text):
    from gaodi.engines.dataquality.config import parse_max_age as parse

    return parse(text)


def test_rules_that_do_not_fit_the_table_are_clear_errors(table):
    with pytest.raises(RuleError, match="there is no column 'ag'; did you mean age"):
        profile_file(table, parse_config('[[rule]]\nname = "r"\nexpr = "ag > 1"'))
    with pytest.raises(RuleError, match="rule 'r' gives Int64 values, not true/false"):
        profile_file(table, parse_config('[[rule]]\nname = "r"\nexpr = "id + 1"'))
    with pytest.raises(RuleError, match="rule 'r' cannot be evaluated"):
        profile_file(table, parse_config('[[rule]]\nname = "r"\nexpr = "name > 5"'))
    with pytest.raises(RuleError, match="column 'nope' that the table does not have"):
        profile_file(table, parse_config("[columns.nope]\noptional = true"))


def test_optional_columns_leave_completeness(table):
    profile = profile_file(table, parse_config("[columns.updated]\noptional = true\n[columns.name]\noptional = true"))
    assert ratio(profile, "completeness") == 1.0


def test_profile_json_is_plain(table):
    import json

    data = profile_file(table, parse_config(RULES)).to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert "\"ratio\"" in text and not math.isnan(data["score"])
    assert data["columns"][0]["top_values"][0] == {"value": 3, "count": 2}
