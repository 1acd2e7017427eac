"""Helpers for the evaluation service tests: testing institutions, a tiny ONNX model, a test set, a plan."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from django.core.files.uploadedfile import SimpleUploadedFile

PLAN = """
title = "小型测试"
target = "y"
positive_label = "yes"
features = ["x1", "x2"]
sensitive = ["sex"]
robustness = false
explanation = false

[thresholds]
accuracy = { min = 0.5 }

[options]
bootstrap = 0
min_group_size = 5
"""


def frame(n: int = 120, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, n).round(3)
    x2 = rng.normal(0, 1, n).round(3)
    y = np.where(x1 + 0.5 * x2 + rng.normal(0, 0.3, n) > 0, "yes", "no")
    return pl.DataFrame({"x1": x1, "x2": x2, "sex": rng.choice(["男", "女"], n), "y": y})


_ONNX: bytes | None = None


def onnx_bytes() -> bytes:
    """A logistic regression on [x1, x2], converted to ONNX with skl2onnx (made once per session)."""
    global _ONNX
    if _ONNX is None:
        from sklearn.linear_model import LogisticRegression

        from gaodi.engines.evaluation.pack import to_onnx

        data = frame()
        model = LogisticRegression().fit(data.select(["x1", "x2"]).to_numpy(), data.get_column("y").to_numpy())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.onnx"
            to_onnx(model, data.select(["x1", "x2"]), ["x1", "x2"], path)
            _ONNX = path.read_bytes()
    return _ONNX


def csv_bytes(data: pl.DataFrame | None = None) -> bytes:
    buffer = io.BytesIO()
    (data if data is not None else frame()).write_csv(buffer)
    return buffer.getvalue()


def lab(world):
    """Two accredited testing institutions with one member each (tina, ted)."""
    from gaodi.apps.core.models import Membership, Organization, User

    world.lab = Organization.objects.create(code="T0001", name="上海人工智能检测中心", kind="testing")
    world.lab2 = Organization.objects.create(code="T0002", name="另一检测机构", kind="testing")
    world.tina = User.objects.create_user(username="tina", password="correct-horse-battery")
    Membership.objects.create(user=world.tina, organization=world.lab, role="member")
    world.ted = User.objects.create_user(username="ted", password="correct-horse-battery")
    Membership.objects.create(user=world.ted, organization=world.lab2, role="member")
    return world


def form_data(world, plan: str = PLAN, model: bytes | None = None, data: bytes | None = None,
              model_name: str = "model.onnx", data_name: str = "test.csv"):
    files = {"model": SimpleUploadedFile(model_name, model if model is not None else onnx_bytes()),
             "data": SimpleUploadedFile(data_name, data if data is not None else csv_bytes())}
    return {"institution": world.lab.pk, "plan": plan}, files


def make_request(world, filing, **kw):
    from gaodi.apps.algorithms import evaluation_actions as actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm

    data, files = form_data(world, **kw)
    return actions.request_evaluation(world.alice, filing, EvaluationRequestForm(data=data, files=files))


def use_tmp_signing_key(settings, tmp_path) -> Path:
    """Tests sign with a key in their own folder, never the platform's var/keys."""
    path = tmp_path / "keys" / "ed25519.pem"
    settings.GAODI_SIGNING_KEY_FILE = str(path)
    return path
