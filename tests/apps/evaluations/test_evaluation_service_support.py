"""Helpers for the evaluation service tests: testing institutions, a tiny ONNX model, a test set, a plan."""

from __future__ import annotations

import io
import json
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def run_worker():
    """One pass of the real ORM worker (django-tasks-db), as `gaodi worker` runs it."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    call_command("db_worker", "--batch", "--no-startup-delay")
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert task.status == "SUCCESSFUL", task.traceback


# ---- a real HTTP prediction endpoint on 127.0.0.1 (reachable only through the allowlist) ----

class _Predictions(BaseHTTPRequestHandler):
    """POST {"rows": [...]} → predictions of the same rule the ONNX model learnt (x1 + 0.5·x2 > 0).
    /slow answers late, /garbage answers HTML, /ok answers JSON."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.calls.append(self.path)
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/garbage":
            return self._send(b"<html><body>Internal dashboard</body></html>", "text/html")
        predictions = ["yes" if r["x1"] + 0.5 * r["x2"] > 0 else "no" for r in body["rows"]]
        return self._send(json.dumps({"predictions": predictions}).encode(), "application/json")

    def _send(self, payload: bytes, content_type: str):
        try:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


@contextmanager
def prediction_server():
    """Yields (base URL, list of paths called)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Predictions)
    httpd.daemon_threads = True
    httpd.calls = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.calls
    finally:
        httpd.shutdown()
        httpd.server_close()


ENDPOINT_PLAN = PLAN + """
[endpoint]
batch_size = 50
timeout = 0.5
retries = 0
"""


def endpoint_form_data(world, url: str, plan: str = ENDPOINT_PLAN, data: bytes | None = None):
    files = {"data": SimpleUploadedFile("test.csv", data if data is not None else csv_bytes())}
    return {"institution": world.lab.pk, "plan": plan, "endpoint_url": url}, files


def make_endpoint_request(world, filing, url: str, **kw):
    from gaodi.apps.algorithms import evaluation_actions as actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm

    data, files = endpoint_form_data(world, url, **kw)
    return actions.request_evaluation(world.alice, filing, EvaluationRequestForm(data=data, files=files))


def fair_frame(n: int = 60) -> pl.DataFrame:
    """Every applicant twice, once per sex: equal selection rates, so even the informative four-fifths
    check passes and the certificate can back a catalog nomination."""
    base = frame(n)
    return pl.concat([base.with_columns(sex=pl.lit("男")), base.with_columns(sex=pl.lit("女"))])
