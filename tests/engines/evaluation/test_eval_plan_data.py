"""Plans and data: TOML parsing with clear errors, CSV encodings, Parquet/Excel, and the bad inputs of
the issue (schema mismatch, unseen labels, empty group, an oversized upload)."""

from __future__ import annotations

import os

import openpyxl
import polars as pl
import pytest

from gaodi.engines.evaluation import evaluate, load_model, load_plan, read_table
from gaodi.engines.evaluation.data import decode_text
from gaodi.engines.evaluation.errors import DataError, ModelError, PlanError
from tests.engines.evaluation.eval_support import classifier, hiring_frame, numeric_classifier, save_onnx

BASE = 'task = "classification"\ntarget = "hired"\npositive_label = "yes"\nsensitive = ["sex"]\n'


def test_full_plan_parses():
    plan = load_plan(BASE + """
features = ["age", "score"]
intersections = "all"
[reference_groups]
sex = "男"
[thresholds]
accuracy = 0.7
demographic_parity_ratio = { min = 0.8 }
equalized_odds_difference = { max = 0.1 }
[options]
bootstrap = 10
seed = 3
[counterfactual]
attribute = "sex"
values = ["男", "女"]
[robustness]
severities = [0.1]
perturbations = ["noise"]
[endpoint]
rate_limit = 5
""")
    assert plan.features == ("age", "score") and plan.sensitive == ("sex",)
    assert plan.intersections == ()  # one sensitive feature has no intersections
    assert [(t.metric, t.minimum, t.maximum) for t in plan.thresholds] == [
        ("accuracy", 0.7, None), ("demographic_parity_ratio", 0.8, None), ("equalized_odds_difference", None, 0.1)]
    assert plan.counterfactual is not None and plan.counterfactual.values == ("男", "女")
    assert plan.robustness is not None and plan.robustness.severities == (0.1,)
    assert plan.endpoint.rate_limit == 5.0 and not plan.audit_mode


def test_intersections_default_to_every_combination():
    plan = load_plan(BASE.replace('["sex"]', '["a", "b", "c"]'))
    assert plan.intersections == (("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c"))


@pytest.mark.parametrize(("extra", "message"), [
    ('[thresholds]\ndemographic_parity_difference = { min = 0.8 }\n',
     "is a difference; check it against a maximum.*belong to 'demographic_parity_ratio'"),
    ('[thresholds]\ndisparate_impact_ratio = { max = 0.2 }\n', "is a ratio; check it against a minimum"),
    ('[thresholds]\nimpact_ratio = { min = 80 }\n', r"minimum must be in \(0, 1\]"),
    ('[thresholds]\naccuracyy = 0.9\n', "did you mean 'accuracy'"),
    ('treshold = 1\n', "unknown key 'treshold' in plan"),
    ('[options]\nbootstrap = -1\n', "options.bootstrap' must be a whole number"),
    ('[reference_groups]\nrace = "x"\n', "reference_groups.race' names a column that is not in 'sensitive'"),
    ('features = ["hired"]\n', "lists the target 'hired'"),
    ('task = "ranking"\n', None),
])
def test_plan_errors_name_the_key_and_the_fix(extra, message):
    text = BASE + extra if not extra.startswith("task") else extra + BASE.split("\n", 1)[1]
    with pytest.raises(PlanError, match=message or "plan key 'task'"):
        load_plan(text)


def test_plan_without_positive_label_or_invalid_toml():
    with pytest.raises(PlanError, match="'positive_label' is missing"):
        load_plan('target = "hired"\n')
    with pytest.raises(PlanError, match="not valid TOML"):
        load_plan('target = "hired\n')
    with pytest.raises(PlanError, match="'target' is missing"):
        load_plan('positive_label = 1\n')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    text = "性别,城市,录用\n男,上海,是\n女,北京,否\n"
    if encoding == "gb18030":
        text += "女,𠀋城,否\n"  # a character outside GBK
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding))
    table = read_table(path)
    assert table.frame.columns == ["性别", "城市", "录用"]
    assert table.frame["性别"].to_list()[:2] == ["男", "女"]
    assert table.encoding == {"utf-8-sig": "utf-8"}.get(encoding, encoding)


def test_undecodable_csv_is_refused():
    with pytest.raises(DataError, match="neither UTF-8, GBK nor GB18030"):
        decode_text(b"a,b\n\xff\xff\xff\xfe\x80\x80,1\n")


def test_parquet_and_excel_read_the_same_rows(tmp_path):
    frame = hiring_frame(40)
    frame.write_parquet(tmp_path / "d.parquet")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(frame.columns)
    for row in frame.iter_rows():
        sheet.append(list(row))
    workbook.save(tmp_path / "d.xlsx")
    assert read_table(tmp_path / "d.parquet").frame.equals(frame)
    excel = read_table(tmp_path / "d.xlsx")
    assert excel.format == "excel" and excel.frame.height == 40
    assert excel.frame["sex"].to_list() == frame["sex"].to_list()


def test_an_oversized_upload_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # a sparse 2 GB file: nothing is written to disk
        handle.truncate(2 * 1024**3)
    with pytest.raises(DataError, match=r"huge.csv is 2.0 GB; the limit is 1.0 GB"):
        read_table(path)
    os.remove(path)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("d.json", b"{}", "unknown type '.json'"), ("d.csv", b"", "is empty"), ("d.csv", b"a,b\n", "no rows"),
    ("d.parquet", b"PAR1 not parquet", "not readable Parquet"), ("d.xlsx", b"PK not excel", "not a readable Excel"),
])
def test_unreadable_data_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(path)


# --- bad input against a model ------------------------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    frame = hiring_frame(300, seed=5)
    return {
        "pipeline": save_onnx(classifier(frame), frame, folder / "p.onnx"),
        "matrix": save_onnx(numeric_classifier(frame), frame, folder / "m.onnx", ["age", "experience", "score"]),
    }


def _table(tmp_path, frame: pl.DataFrame):
    path = tmp_path / "data.csv"
    frame.write_csv(path)
    return read_table(path)


def test_model_input_missing_from_the_data(tmp_path, models):
    table = _table(tmp_path, hiring_frame(100).drop("experience"))
    with pytest.raises(ModelError, match="needs input column\\(s\\) 'experience', which the data lacks"):
        evaluate(load_plan(BASE), table, load_model(models["pipeline"]))


def test_recorded_model_input_missing_from_the_data(tmp_path, models):
    # The matrix model records its input names; with no `features` key the engine uses them, and a
    # column the data lacks is a ModelError naming it, not a KeyError.
    table = _table(tmp_path, hiring_frame(100).drop("experience"))
    with pytest.raises(ModelError, match="needs input column\\(s\\) 'experience', which the data lacks"):
        evaluate(load_plan(BASE), table, load_model(models["matrix"]))


def test_plan_features_that_do_not_match_the_model(tmp_path, models):
    table = _table(tmp_path, hiring_frame(100))
    plan = load_plan(BASE + 'features = ["age", "score"]\n')
    with pytest.raises(ModelError, match="takes 3 input columns but the plan lists 2"):
        evaluate(plan, table, load_model(models["matrix"]))
    with pytest.raises(ModelError, match="do not match the model's inputs: the model also needs"):
        evaluate(plan, table, load_model(models["pipeline"]))


def test_text_column_for_a_numeric_model(tmp_path, models):
    table = _table(tmp_path, hiring_frame(100))
    plan = load_plan(BASE + 'features = ["age", "city", "score"]\n')
    with pytest.raises(ModelError, match="column 'city' holds text but the model expects numbers"):
        evaluate(plan, table, load_model(models["matrix"]))


def test_label_column_with_unseen_values(tmp_path, models):
    frame = hiring_frame(100).with_columns(
        pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("maybe")).otherwise(pl.col("hired")).alias("hired"))
    with pytest.raises(DataError, match=r"column 'hired' has value\(s\) 'maybe' \(3 rows\) that the model never predicts"):
        evaluate(load_plan(BASE), _table(tmp_path, frame), load_model(models["pipeline"]))


def test_positive_label_that_never_occurs(tmp_path, models):
    with pytest.raises(PlanError, match="positive_label 'Yes' occurs in neither"):
        evaluate(load_plan(BASE.replace('"yes"', '"Yes"')), _table(tmp_path, hiring_frame(50)),
                 load_model(models["pipeline"]))


def test_empty_group_is_refused(tmp_path, models):
    table = _table(tmp_path, hiring_frame(100))
    with pytest.raises(DataError, match=r"group sex = '其他' is empty: no row of the data has it"):
        evaluate(load_plan(BASE + '[groups]\nsex = ["男", "女", "其他"]\n'), table, load_model(models["pipeline"]))
    with pytest.raises(DataError, match=r"group sex = 'male' is empty"):
        evaluate(load_plan(BASE + '[reference_groups]\nsex = "male"\n'), table, load_model(models["pipeline"]))


def test_missing_columns_name_the_plan_key(tmp_path, models):
    table = _table(tmp_path, hiring_frame(50))
    with pytest.raises(DataError, match="plan key 'sensitive' names column 'gender', which the data lacks"):
        evaluate(load_plan(BASE.replace('["sex"]', '["gender"]')), table, load_model(models["pipeline"]))


def test_model_and_audit_mode_are_exclusive(tmp_path, models):
    table = _table(tmp_path, hiring_frame(50).with_columns(pl.col("hired").alias("decision")))
    with pytest.raises(PlanError, match="audit mode"):
        evaluate(load_plan(BASE + 'prediction = "decision"\n'), table, load_model(models["pipeline"]))
    with pytest.raises(PlanError, match="no model given"):
        evaluate(load_plan(BASE), table, None)
