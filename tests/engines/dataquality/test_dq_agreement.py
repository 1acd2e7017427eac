"""Agreement statistics equal the reference implementations on random labels (to 1e-9)."""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from gaodi.engines.dataquality.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    ratings_to_counts,
)

SETTINGS = settings(max_examples=60, deadline=None)


def close(ours, reference):
    if reference is None or (isinstance(reference, float) and math.isnan(reference)):
        return ours is None
    return ours is not None and abs(ours - reference) <= 1e-9


@SETTINGS
@given(st.integers(2, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 4), min_size=n, max_size=n), st.lists(st.integers(0, 4), min_size=n, max_size=n))),
    st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_kappa_equals_scikit_learn(pair, weights):
    a, b = pair
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = cohen_kappa_score(a, b, weights=weights)
    assert close(cohen_kappa(a, b, weights=weights), float(reference))


@SETTINGS
@given(st.integers(1, 40), st.integers(2, 7), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_fleiss_kappa_equals_statsmodels(items, raters, categories, seed):
    rng = np.random.default_rng(seed)
    ratings = rng.integers(0, categories, (items, raters))
    table, _ = aggregate_raters(ratings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = float(sm_fleiss(table, method="fleiss"))
    counts, _ = ratings_to_counts(ratings.tolist())
    assert close(fleiss_kappa(counts), reference)
    assert close(fleiss_kappa(table), reference)


@SETTINGS
@given(st.integers(2, 6), st.integers(2, 30), st.integers(2, 6), st.floats(0, 0.5), st.integers(0, 2**32 - 1),
       st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_krippendorff_alpha_equals_the_krippendorff_package(raters, units, values, missing, seed, level):
    rng = np.random.default_rng(seed)
    data = rng.integers(1, values + 1, (raters, units)).astype(float)
    data[rng.random((raters, units)) < missing] = np.nan
    present = data[~np.isnan(data)]
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    ours = krippendorff_alpha(data.tolist(), level=level)
    if len(np.unique(present)) < 2 or not pairable.any():
        assert ours is None
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    assert close(ours, reference)


def test_krippendorff_with_text_labels_and_an_ordered_domain():
    data = [["low", "mid", None, "high"], ["low", "high", "mid", "high"], [None, "mid", "mid", "high"]]
    domain = ["low", "mid", "high"]
    codes = [[np.nan if v is None else domain.index(v) for v in row] for row in data]
    for level in ("nominal", "ordinal"):
        reference = krippendorff.alpha(reliability_data=codes, level_of_measurement=level, value_domain=[0, 1, 2])
        assert close(krippendorff_alpha(data, level=level, value_domain=domain), float(reference))
    with pytest.raises(ValueError, match="interval alpha needs numeric ratings"):
        krippendorff_alpha(data, level="interval")
    with pytest.raises(ValueError, match=r"rating 'high' \(rater 1, unit 4\) is not in the value domain"):
        krippendorff_alpha(data, value_domain=["low", "mid"])


def test_undefined_agreement_is_none_not_zero():
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None
    assert fleiss_kappa([[3, 0], [3, 0]]) is None
    assert krippendorff_alpha([[1, 1, 1], [1, 1, 1]]) is None


def test_a_label_outside_the_schema_is_an_error():
    with pytest.raises(ValueError, match=r"label 'dog' \(label 3\) is not in the schema \['cat', 'bird'\]"):
        cohen_kappa(["cat", "bird", "dog"], ["cat", "bird", "cat"], labels=["cat", "bird"])
    with pytest.raises(ValueError, match="is not in the schema"):
        ratings_to_counts([["cat", "fish"]], labels=["cat", "bird"])


def test_bad_shapes():
    with pytest.raises(ValueError, match="the same items"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa([[2, 1], [1, 1]])
    with pytest.raises(ValueError, match="same units"):
        krippendorff_alpha([[1, 2], [1]])
