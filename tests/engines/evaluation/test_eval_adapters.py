"""Model adapters: ONNX and skops files made in the test, pickle/joblib refusal, and the HTTP endpoint
adapter against a local server on 127.0.0.1 (allowed only through the allowlist), with the SSRF guard."""

from __future__ import annotations

import json
import pickle
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import joblib
import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from gaodi.engines.evaluation.adapters import HttpModel, OnnxModel, SkopsModel, detect_format, load_model
from gaodi.engines.evaluation.adapters.ssrf import pin_endpoint
from gaodi.engines.evaluation.errors import EndpointError, ModelError, UnsafeEndpointError
from gaodi.engines.evaluation.plan import EndpointSpec
from tests.engines.evaluation.eval_support import (
    FEATURES,
    classifier,
    hiring_frame,
    numeric_classifier,
    regressor,
    save_onnx,
    save_skops,
)


@pytest.fixture(scope="module")
def frame():
    return hiring_frame(300, seed=1)


def test_onnx_pipeline_with_one_input_per_column_predicts_like_scikit_learn(frame, tmp_path):
    model = classifier(frame)
    onnx = load_model(save_onnx(model, frame, tmp_path / "m.onnx"))
    assert isinstance(onnx, OnnxModel)
    assert [i.column for i in onnx.inputs()] == FEATURES
    assert onnx.classes() == ["no", "yes"]
    pred = onnx.predict(frame.select(FEATURES))
    expected = model.predict(frame.select(FEATURES))
    assert (np.asarray(pred.labels.to_list()) == expected).mean() > 0.99
    proba = model.predict_proba(frame.select(FEATURES))[:, 1]
    assert np.allclose(pred.positive_score("yes"), proba, atol=1e-5)


def test_onnx_matrix_input_uses_recorded_feature_names_and_checks_width(frame, tmp_path):
    model = numeric_classifier(frame)
    columns = ["age", "experience", "score"]
    onnx = load_model(save_onnx(model, frame, tmp_path / "n.onnx", columns))
    assert onnx.feature_names() == columns
    (spec,) = onnx.inputs()
    assert spec.column is None and spec.width == 3
    pred = onnx.predict(frame.select(columns))
    assert (np.asarray(pred.labels.to_list()) == model.predict(frame.select(columns).to_numpy())).mean() > 0.99


def test_onnx_regression_returns_numbers(frame, tmp_path):
    model = regressor(frame)
    onnx = load_model(save_onnx(model, frame, tmp_path / "r.onnx"))
    pred = onnx.predict(frame.select(FEATURES))
    assert pred.labels.dtype == pl.Float64
    assert np.allclose(pred.labels.to_numpy(), model.predict(frame.select(FEATURES)), rtol=1e-4)


def test_onnx_file_that_is_not_onnx_is_refused(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x08\x07not really a model")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        load_model(path)


def test_skops_default_trusted_types_load(frame, tmp_path):
    model = classifier(frame)
    skops_model = load_model(save_skops(model, tmp_path / "m.skops"))
    assert isinstance(skops_model, SkopsModel)
    assert skops_model.classes() == ["no", "yes"]
    pred = skops_model.predict(frame.select(FEATURES))
    assert pred.labels.to_list() == list(model.predict(frame.select(FEATURES)))


def scale_down(x):
    """A user-defined function: skops does not trust it by default."""
    return x / 100.0


def test_skops_untrusted_types_are_refused_unless_approved(frame, tmp_path):
    x = frame.select(["age", "score"]).to_numpy()
    model = make_pipeline(FunctionTransformer(scale_down), LogisticRegression()).fit(x, frame["hired"].to_numpy())
    path = save_skops(model, tmp_path / "custom.skops")
    with pytest.raises(ModelError, match=r"not trusted: .*scale_down.*--trust") as refused:
        load_model(path)
    assert "\n" not in str(refused.value)
    untrusted = [t.strip() for t in str(refused.value).split("not trusted: ")[1].split(";")[0].split(",")]
    loaded = load_model(path, trusted=untrusted)
    assert loaded.predict(frame.select(["age", "score"])).labels.len() == frame.height


@pytest.mark.parametrize("suffix", [".onnx", ".skops", ".bin", ".pkl"])
def test_pickle_is_refused_by_its_magic_bytes_whatever_the_name(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}, protocol=4))
    with pytest.raises(ModelError, match=r"pickle file \(protocol 4\).*gaodi model pack"):
        load_model(path)


def test_joblib_files_are_refused_compressed_or_not(tmp_path):
    compressed = tmp_path / "model.bin"
    joblib.dump({"weights": list(range(100))}, compressed, compress=3)
    with pytest.raises(ModelError, match="zlib-compressed data, as joblib writes.*gaodi model pack"):
        detect_format(compressed)
    plain = tmp_path / "model.joblib"
    plain.write_bytes(b"(dp0\nS'a'\np1\nI1\ns.")  # protocol 0 pickle: caught by the name
    with pytest.raises(ModelError, match="pickle/joblib file.*gaodi model pack"):
        detect_format(plain)


def test_zip_that_is_not_skops_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.pkl", pickle.dumps(1))
    with pytest.raises(ModelError, match="not a skops file"):
        detect_format(path)


# --- HTTP endpoint -------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    state: dict = {}

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):  # noqa: N802
        state = self.server.state  # type: ignore[attr-defined]
        with state["lock"]:
            state["requests"] += 1
            state["inflight"] += 1
            state["max_inflight"] = max(state["max_inflight"], state["inflight"])
            state["hosts"].add(self.headers["Host"])
            state["times"].append(time.monotonic())
        self._counted = True
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self._answer(body["rows"], state)
        finally:
            self._done(state)

    def _done(self, state):
        # Leave the in-flight count before the client can read the answer: the client may send its next
        # request as soon as it has the bytes, before this thread would get to the `finally`.
        if getattr(self, "_counted", False):
            self._counted = False
            with state["lock"]:
                state["inflight"] -= 1

    def _answer(self, rows, state):
        path = self.path
        if path == "/slow":
            time.sleep(1.0)
        if path == "/flaky" and state["requests"] <= 2:
            return self._send(503, b"busy")
        if path == "/garbage":
            return self._send(200, b"<html>not json</html>")
        if path == "/short":
            return self._send(200, json.dumps({"predictions": ["yes"]}).encode())
        if path == "/redirect":
            self._done(state)
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        time.sleep(0.02)
        predictions = ["yes" if r["score"] > 70 else "no" for r in rows]
        scores = [min(max((r["score"] - 40) / 60, 0), 1) for r in rows]
        return self._send(200, json.dumps({"predictions": predictions, "scores": scores}).encode())

    def _send(self, status, payload):
        self._done(self.server.state)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = {"lock": threading.Lock(), "requests": 0, "inflight": 0, "max_inflight": 0, "hosts": set(),
                   "times": []}
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state
    httpd.shutdown()
    httpd.server_close()


def _rows(n=20):
    return hiring_frame(n, seed=3).select(FEATURES)


def test_endpoint_batches_rows_with_a_concurrency_limit(server):
    url, state = server
    model = HttpModel(url + "/ok", allow=["127.0.0.1"], spec=EndpointSpec(batch_size=3, concurrency=2))
    rows = _rows(20)
    pred = model.predict(rows)
    assert pred.labels.to_list() == ["yes" if s > 70 else "no" for s in rows["score"]]
    assert pred.positive_score("yes") is not None and len(pred.positive_score("yes")) == 20
    assert state["requests"] == 7  # ceil(20 / 3)
    assert 1 <= state["max_inflight"] <= 2


def test_endpoint_rate_limit_spaces_requests(server):
    url, state = server
    model = HttpModel(url + "/ok", allow=["127.0.0.0/8"], spec=EndpointSpec(batch_size=5, concurrency=4, rate_limit=10))
    began = time.monotonic()
    model.predict(_rows(20))
    assert state["requests"] == 4
    assert time.monotonic() - began >= 3 / 10  # four requests at most ten a second: three gaps of 0.1 s


def test_endpoint_retries_server_errors_then_succeeds(server):
    url, state = server
    model = HttpModel(url + "/flaky", allow=["127.0.0.1"], spec=EndpointSpec(batch_size=50, retries=3), backoff=0.01)
    assert model.predict(_rows(5)).labels.len() == 5
    assert state["requests"] == 3


def test_endpoint_that_times_out_fails_with_a_clear_error(server):
    url, state = server
    model = HttpModel(url + "/slow", allow=["127.0.0.1"], spec=EndpointSpec(timeout=0.2, retries=1), backoff=0.01)
    with pytest.raises(EndpointError, match=r"did not answer within 0.2 s \(2 tries\)"):
        model.predict(_rows(3))
    assert state["requests"] == 2


@pytest.mark.parametrize(("path", "message"), [
    ("/garbage", "garbage: not JSON"), ("/short", "garbage: 1 predictions for 4 rows"), ("/redirect", "HTTP 302"),
])
def test_endpoint_garbage_and_redirects_are_errors(server, path, message):
    url, _ = server
    model = HttpModel(url + path, allow=["127.0.0.1"], spec=EndpointSpec(retries=0))
    with pytest.raises(EndpointError, match=message):
        model.predict(_rows(4))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/ok", "http://169.254.169.254/latest/meta-data/", "http://[::1]:{port}/",
    "http://10.1.2.3/predict", "http://0.0.0.0:{port}/", "http://2130706433:{port}/", "http://[::ffff:127.0.0.1]/",
    "http://localhost:{port}/ok",
])
def test_ssrf_guard_refuses_internal_addresses_without_the_allowlist(server, url):
    base, state = server
    port = base.rsplit(":", 1)[1]
    with pytest.raises(UnsafeEndpointError, match="unless the operator allowlists them"):
        HttpModel(url.format(port=port))
    assert state["requests"] == 0


def test_allowlist_of_one_address_does_not_open_the_metadata_service():
    with pytest.raises(UnsafeEndpointError, match="169.254.169.254, a link-local address"):
        pin_endpoint("http://169.254.169.254/", allow=["127.0.0.1"])


def test_every_resolved_address_must_pass():
    def resolver(host, port):
        return ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(UnsafeEndpointError, match="127.0.0.1, a loopback address"):
        pin_endpoint("https://model.example/predict", resolver=resolver)


def test_connection_is_pinned_to_the_first_resolution(server):
    """DNS rebinding: the name is resolved once; later answers (here a private address) are never used,
    and the request carries the original name in its Host header."""
    base, state = server
    port = int(base.rsplit(":", 1)[1])
    answers = [["127.0.0.1"], ["10.0.0.9"], ["10.0.0.9"]]
    calls = []

    def resolver(host, p):
        calls.append(host)
        return answers[len(calls) - 1]

    model = HttpModel(f"http://model.test:{port}/ok", allow=["model.test"], resolver=resolver,
                      spec=EndpointSpec(batch_size=2))
    model.predict(_rows(6))
    model.predict(_rows(2))
    assert calls == ["model.test"]
    assert state["hosts"] == {f"model.test:{port}"}


def test_pinned_https_target_keeps_the_name_for_tls():
    target = pin_endpoint("https://api.example.com/v1/predict?x=1", resolver=lambda h, p: ["93.184.216.34"])
    assert target.request_url == "https://93.184.216.34:443/v1/predict?x=1"
    assert target.host_header == "api.example.com"
    assert target.extensions == {"sni_hostname": "api.example.com"}


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/x", "http:// or https://"), ("http://user:pw@example.com/", "user name or password"),
    ("http:///nohost", "has no host"),
])
def test_malformed_endpoint_urls(url, message):
    with pytest.raises(EndpointError, match=message):
        pin_endpoint(url, resolver=lambda h, p: ["93.184.216.34"])
