"""Golden test on a real public data set: Toronto arrests for marijuana possession (carData::Arrests,
as shipped in the PyPI package scikit-lego, a test dependency; the data is read from the package, not
copied into this repository).

Two audits, each pinned in full: the police's recorded decision to release with a summons, by colour,
sex and citizenship (a selection-rate audit without ground truth, as a hiring bias audit is), and a
rule-based screening decision judged against that recorded outcome (every confusion-matrix rate)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from gaodi.engines.evaluation import evaluate, load_plan, read_table


@pytest.fixture(scope="module")
def arrests_csv(tmp_path_factory) -> Path:
    """The packaged data set written as CSV, the way a user would upload it."""
    from sklego.datasets import load_arrests

    path = tmp_path_factory.mktemp("arrests") / "arrests.csv"
    pl.from_pandas(load_arrests(as_frame=True)).write_csv(path)
    return path

# grouping -> [(group, rows, released with summons)]
RECORDED = {
    "colour": [("Black", 1288, 955), ("White", 3938, 3379)],
    "sex": [("Female", 443, 380), ("Male", 4783, 3954)],
    "citizen": [("No", 771, 559), ("Yes", 4455, 3775)],
    "colour × sex": [("Black × Female", 72, 59), ("Black × Male", 1216, 896),
                     ("White × Female", 371, 321), ("White × Male", 3567, 3058)],
}
# grouping -> [(group, tn, fp, fn, tp)] for the screening rule against the recorded release
SCREENING = {
    "colour": [("Black", 285, 48, 604, 351), ("White", 417, 142, 1561, 1818)],
    "sex": [("Female", 45, 18, 136, 244), ("Male", 657, 172, 2029, 1925)],
    "colour × sex": [("Black × Female", 8, 5, 28, 31), ("Black × Male", 277, 43, 576, 320),
                     ("White × Female", 37, 13, 108, 213), ("White × Male", 380, 129, 1453, 1605)],
}
SCREENING_SUMMARIES = {
    "colour": {"demographic_parity_ratio": 0.6224101597160603, "equalized_odds_difference": 0.17048973564780312,
               "equalized_odds_ratio": 0.5674406801167364, "equal_opportunity_ratio": 0.6831216629516355},
    "sex": {"demographic_parity_ratio": 0.7413110683032943, "equalized_odds_difference": 0.15525650240928573,
            "equalized_odds_ratio": 0.7261761158021713, "equal_opportunity_ratio": 0.7582070864117681},
    "colour × sex": {"demographic_parity_ratio": 0.4900478865859339, "equalized_odds_difference": 0.3064085447263017,
                     "equalized_odds_ratio": 0.349375, "equal_opportunity_ratio": 0.5382293762575453},
}


def _rate(num, den):
    return None if den == 0 else num / den


def _expected_rates(tn, fp, fn, tp):
    n = tn + fp + fn + tp
    return {
        "selection_rate": _rate(fp + tp, n), "tpr": _rate(tp, tp + fn), "fpr": _rate(fp, fp + tn),
        "fnr": _rate(fn, tp + fn), "tnr": _rate(tn, fp + tn), "ppv": _rate(tp, tp + fp), "npv": _rate(tn, tn + fn),
        "fdr": _rate(fp, tp + fp), "for": _rate(fn, tn + fn), "accuracy": _rate(tn + tp, n), "base_rate": _rate(fn + tp, n),
    }


def _fairness(document):
    return next(e["output"] for e in document["results"] if e["test"] == "fairness")


def test_packaged_data_is_the_published_table(arrests_csv):
    table = pl.read_csv(arrests_csv)
    assert table.shape == (5226, 8)
    assert table.columns == ["released", "colour", "year", "age", "sex", "employed", "citizen", "checks"]


def test_recorded_release_decisions_per_group_and_impact_ratios(arrests_csv):
    plan = load_plan('prediction = "released"\npositive_label = "Yes"\nsensitive = ["colour", "sex", "citizen"]\n'
                     'intersections = [["colour", "sex"]]\n[reference_groups]\ncolour = "White"\n'
                     '[thresholds]\nimpact_ratio = { min = 0.8 }\n')
    document = evaluate(plan, read_table(arrests_csv)).document
    fairness = _fairness(document)
    assert fairness["rows"] == 5226 and fairness["overall"]["selection_rate"] == 4334 / 5226
    for grouping in fairness["groupings"]:
        expected = RECORDED[grouping["name"]]
        assert [(g["label"], g["count"], g["counts"]["selected"]) for g in grouping["groups"]] == expected
        top = max(sel / n for _, n, sel in expected)
        for group, (_, n, sel) in zip(grouping["impact_ratios"]["selection"], expected, strict=True):
            assert group["rate"] == sel / n
            assert group["impact_ratio"] == pytest.approx((sel / n) / top, rel=1e-12)
    colour = fairness["groupings"][0]
    assert colour["disparate_impact"]["ratio"] == pytest.approx(0.8641219332413023, rel=1e-12)
    assert colour["disparate_impact"]["passed"] is True
    assert colour["disparate_impact"]["reference"]["ratios"]["Black"] == pytest.approx((955 / 1288) / (3379 / 3938))
    checks = {c["scope"]: c["passed"] for c in document["checks"] if c["metric"] == "impact_ratio"}
    assert checks == {"colour": True, "sex": True, "citizen": True}
    assert "On colour, the selection rate of Black is 0.86 times that of White" in " ".join(document["summary"]["en"])


def test_screening_rule_full_per_group_table(tmp_path, arrests_csv):
    frame = pl.read_csv(arrests_csv).with_columns(
        screen=pl.when((pl.col("checks") <= 1) & (pl.col("employed") == "Yes")).then(pl.lit("Yes")).otherwise(pl.lit("No")))
    frame.write_csv(tmp_path / "screened.csv")
    plan = load_plan('target = "released"\nprediction = "screen"\npositive_label = "Yes"\n'
                     'sensitive = ["colour", "sex"]\n[thresholds]\nequalized_odds_difference = { max = 0.1 }\n')
    document = evaluate(plan, read_table(tmp_path / "screened.csv")).document
    performance = next(e["output"] for e in document["results"] if e["test"] == "performance")
    assert performance["binary_counts"] == {"tn": 702, "fp": 190, "fn": 2165, "tp": 2169}
    assert performance["accuracy"] == (702 + 2169) / 5226
    fairness = _fairness(document)
    for grouping in fairness["groupings"]:
        rows = SCREENING[grouping["name"]]
        assert [g["label"] for g in grouping["groups"]] == [r[0] for r in rows]
        for group, (_, tn, fp, fn, tp) in zip(grouping["groups"], rows, strict=True):
            assert group["counts"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
            assert group["count"] == tn + fp + fn + tp
            assert group["rates"] == _expected_rates(tn, fp, fn, tp)
        for name, value in SCREENING_SUMMARIES[grouping["name"]].items():
            assert grouping["fairness"][name]["value"] == pytest.approx(value, rel=1e-12)
    assert document["passed"] is False
