"""`gaodi evaluate` and `gaodi model pack` as a user runs them: separate processes, real exit codes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from gaodi.engines.evaluation import EvaluationError, load_model
from gaodi.engines.evaluation.envelope import validate
from gaodi.engines.evaluation.pack import pack_model
from tests.engines.evaluation.eval_support import PLAN, classifier, hiring_frame

TIMEOUT = 180


def gaodi(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GAODI_ENV", "GAODI_SECRET_KEY")}
    env.update(GAODI_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="gaodi.config.settings",
               PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "gaodi.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def owner_files(tmp_path_factory):
    """What a model owner has: a joblib-pickled scikit-learn model, test data and a plan."""
    folder = tmp_path_factory.mktemp("owner")
    frame = hiring_frame(400, seed=9)
    frame.write_csv(folder / "data.csv")
    frame.head(50).write_csv(folder / "sample.csv")
    joblib.dump(classifier(frame), folder / "model.joblib")
    (folder / "plan.toml").write_text(PLAN, encoding="utf-8")
    return folder


def test_pack_then_evaluate_end_to_end(owner_files, tmp_path):
    packed = gaodi(tmp_path, "model", "pack", "--model", str(owner_files / "model.joblib"), "--format", "onnx",
                   "--sample", str(owner_files / "sample.csv"), "--out", str(tmp_path / "model.onnx"))
    assert packed.returncode == 0, packed.stderr
    assert "unpickles the model file" in packed.stderr
    assert "checked on 50 sample rows" in packed.stdout
    assert load_model(tmp_path / "model.onnx").classes() == ["no", "yes"]

    out = tmp_path / "out"
    run = gaodi(tmp_path, "evaluate", "--model", str(tmp_path / "model.onnx"), "--data", str(owner_files / "data.csv"),
                "--plan", str(owner_files / "plan.toml"), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"NOT PASSED: wrote {out}/result.json and {out}/report.html"
    assert "evaluate: 100%" in run.stderr and "8/8" in run.stderr  # the tqdm bar, on stderr
    document = json.loads((out / "result.json").read_text(encoding="utf-8"))
    validate(document, "result.schema.json")
    assert document["data"]["encoding"] == "utf-8" and document["model"]["kind"] == "onnx"
    assert (out / "artifacts" / "fairness_groups.csv").exists()
    assert "女性的录用率为男性的" in (out / "report.html").read_text(encoding="utf-8")


def test_pack_to_skops_names_the_types_to_approve(owner_files, tmp_path):
    packed = gaodi(tmp_path, "model", "pack", "--model", str(owner_files / "model.joblib"), "--format", "skops",
                   "--sample", str(owner_files / "sample.csv"), "--out", str(tmp_path / "model.skops"))
    assert packed.returncode == 0, packed.stderr
    assert "100.0% of predictions agree" in packed.stdout
    assert load_model(tmp_path / "model.skops").predict(hiring_frame(5).select(
        ["sex", "age", "experience", "city", "score"])).labels.len() == 5


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "{folder}/model.pkl"], "is a pickle file (protocol 4); Gaodi never loads pickle"),
    (["--endpoint", "http://169.254.169.254/latest/meta-data/"], "169.254.169.254, a link-local address"),
])
def test_bad_input_exits_non_zero_with_one_line_and_no_traceback(owner_files, tmp_path, args, message):
    (owner_files / "model.pkl").write_bytes(pickle.dumps({"not": "a model"}, protocol=4))
    args = [a.format(folder=owner_files) for a in args]
    run = gaodi(tmp_path, "evaluate", *args, "--data", str(owner_files / "data.csv"),
                "--plan", str(owner_files / "plan.toml"), "--out", str(tmp_path / "out"), "--no-progress")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("CommandError: ") and message in lines[0]
    assert not (tmp_path / "out").exists()


def test_pack_without_skl2onnx_says_how_to_install_it(owner_files, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # as on a machine without the [pack] extra
    monkeypatch.setitem(sys.modules, "skl2onnx.common.data_types", None)
    with pytest.raises(EvaluationError, match=r"needs skl2onnx on this machine: pip install 'gaodi\[pack\]'"):
        pack_model(owner_files / "model.joblib", "onnx", owner_files / "sample.csv", tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_pack_tells_which_types_will_be_approved_and_which_refused(tmp_path):
    import functools

    import numpy as np
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = hiring_frame(200, seed=3).select(["age", "experience", "score"]).to_pandas()
    target = (frame["score"] > frame["score"].median()).astype(int)
    # numpy.dtype (from the imputer) may be approved by the institution; functools.partial never.
    model = make_pipeline(SimpleImputer(), FunctionTransformer(functools.partial(np.multiply, 2.0)),
                          LogisticRegression()).fit(frame, target)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.head(30).to_csv(tmp_path / "sample.csv", index=False)
    packed = gaodi(tmp_path, "model", "pack", "--model", str(tmp_path / "model.joblib"), "--format", "skops",
                   "--sample", str(tmp_path / "sample.csv"), "--out", str(tmp_path / "model.skops"))
    assert packed.returncode == 0, packed.stderr
    assert "the platform will ask the evaluator to approve these types: numpy.dtype" in packed.stdout
    assert "the platform will refuse type functools.partial, so this file cannot be evaluated" in packed.stderr


SECRET = "k3y-for-the-model-endpoint-0042"


@pytest.fixture
def guarded_endpoint():
    """A prediction endpoint that answers only with the right X-API-Key; /echo puts the key in its error."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):  # noqa: N802
            rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"]
            key = self.headers.get("X-API-Key", "")
            if self.path == "/echo":
                return self._send(400, f"bad key {key}".encode())
            if key != SECRET:
                return self._send(401, b"unauthorized")
            return self._send(200, json.dumps({"predictions": ["yes" if r["score"] > 60 else "no"
                                                              for r in rows]}).encode())

        def _send(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_endpoint_credential_comes_from_the_environment_and_never_shows(owner_files, tmp_path, guarded_endpoint):
    def evaluate(path, *extra, key=SECRET):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GAODI_ENV", "GAODI_SECRET_KEY")}
        env.update(GAODI_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="gaodi.config.settings",
                   MODEL_API_KEY=key)
        return subprocess.run([sys.executable, "-m", "gaodi.cli", "evaluate", "--endpoint", guarded_endpoint + path,
                               "--allow", "127.0.0.1", "--data", str(owner_files / "data.csv"),
                               "--plan", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                               "--no-progress", *extra], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)

    plan = tmp_path / "plan.toml"
    plan.write_text('task = "classification"\ntarget = "hired"\npositive_label = "yes"\nsensitive = ["sex"]\n'
                    'features = ["sex", "age", "experience", "city", "score"]\n', encoding="utf-8")
    refused = evaluate("/ok")
    assert refused.returncode == 1 and "401" in refused.stderr  # the control: no credential, no predictions
    run = evaluate("/ok", "--header-env", "X-API-Key=MODEL_API_KEY")
    assert run.returncode == 0, run.stderr
    assert SECRET not in (tmp_path / "out" / "result.json").read_text(encoding="utf-8")
    echoed = evaluate("/echo", "--header-env", "X-API-Key=MODEL_API_KEY")
    assert echoed.returncode == 1 and "Traceback" not in echoed.stderr
    assert SECRET not in echoed.stderr and SECRET[:8] not in echoed.stderr
    for spec, message in (("X-API-Key", "expected HEADER=ENVVAR"), ("Host=MODEL_API_KEY", "Host"),
                          ("X-API-Key=NOT_SET_ANYWHERE", "NOT_SET_ANYWHERE is not set")):
        bad = evaluate("/ok", "--header-env", spec)
        assert bad.returncode == 1 and message in bad.stderr and SECRET not in bad.stderr
