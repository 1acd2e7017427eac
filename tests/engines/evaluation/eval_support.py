"""Shared helpers for the evaluation engine tests: a synthetic hiring data set and small models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from gaodi.engines.evaluation.pack import to_onnx, to_skops

FEATURES = ["sex", "age", "experience", "city", "score"]


def hiring_frame(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Applicants with a hiring outcome that depends on experience, score and (unfairly) sex."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["男", "女"], size=n, p=[0.55, 0.45])
    age = rng.integers(20, 60, size=n)
    experience = np.clip(rng.normal(6, 3, size=n), 0, None).round(1)
    city = rng.choice(["上海", "北京", "深圳"], size=n)
    score = rng.normal(70, 10, size=n).round(1)
    logit = 0.25 * (experience - 6) + 0.08 * (score - 70) + np.where(sex == "男", 0.8, -0.4)
    hired = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    price = 100 + 5 * experience + np.where(city == "上海", 20.0, 0.0) + rng.normal(0, 3, size=n)
    return pl.DataFrame({"sex": sex, "age": age, "experience": experience, "city": city, "score": score,
                         "hired": hired, "price": price.round(2)})


def _preprocess() -> ColumnTransformer:
    return ColumnTransformer([
        ("num", StandardScaler(), ["age", "experience", "score"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "city"]),
    ])


def classifier(frame: pl.DataFrame) -> Pipeline:
    model = Pipeline([("prep", _preprocess()), ("clf", LogisticRegression(max_iter=200))])
    return model.fit(frame.select(FEATURES), frame.get_column("hired").to_numpy())


def regressor(frame: pl.DataFrame) -> Pipeline:
    model = Pipeline([("prep", _preprocess()), ("reg", Ridge())])
    return model.fit(frame.select(FEATURES), frame.get_column("price").to_numpy())


def numeric_classifier(frame: pl.DataFrame) -> LogisticRegression:
    """A model without feature names: one matrix input of [age, experience, score]."""
    x = frame.select(["age", "experience", "score"]).to_numpy()
    return LogisticRegression(max_iter=200).fit(x, frame.get_column("hired").to_numpy())


def save_onnx(model: object, frame: pl.DataFrame, path: Path, features: list[str] | None = None) -> Path:
    columns = features or FEATURES
    to_onnx(model, frame.select(columns), columns, path)
    return path


def save_skops(model: object, path: Path) -> Path:
    to_skops(model, path)
    return path


PLAN = """
title = "招聘筛选模型评估"
task = "classification"
target = "hired"
positive_label = "yes"
sensitive = ["sex", "city"]

[reference_groups]
sex = "男"

[thresholds]
accuracy = { min = 0.6 }
demographic_parity_ratio = { min = 0.8 }
equalized_odds_difference = { max = 0.2 }

[options]
bootstrap = 50
min_group_size = 30
seed = 7

[counterfactual]
attribute = "sex"
max_rows = 300

[robustness]
severities = [0.2, 0.5]
max_rows = 300

[explanation]
top_k = 2
repeats = 2
max_rows = 300
grid = 5

[names.sex]
zh = "性别"
en = "sex"
[names."sex.女"]
zh = "女性"
en = "women"
[names."sex.男"]
zh = "男性"
en = "men"
[names.outcome]
zh = "录用率"
en = "hiring rate"
"""
