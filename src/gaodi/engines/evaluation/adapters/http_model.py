"""A model behind an HTTP prediction endpoint: JSON rows in, predictions out.

Request:  POST {"rows": [{"column": value, ...}, ...]}
Answer:   {"predictions": [...]} with one entry per row, optionally "probabilities" (one list per row)
          with "classes" (the label of each list position), or "scores" (the positive-class score);
          a bare JSON list of predictions is accepted too.

Rows go in batches, with at most `concurrency` requests in flight, at most `rate_limit` requests a
second, a timeout per request, and retries with exponential backoff for timeouts, connection errors,
429 and 5xx answers. The connection goes to the address the SSRF guard resolved and checked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters.base import InputSpec, Predictions
from gaodi.engines.evaluation.adapters.ssrf import Resolver, pin_endpoint, system_resolver
from gaodi.engines.evaluation.errors import (
    EndpointError,
    EndpointGarbageError,
    EndpointTimeoutError,
    EndpointUnreachableError,
)
from gaodi.engines.evaluation.labels import canon_value
from gaodi.engines.evaluation.plan import EndpointSpec

MAX_ANSWER_BYTES = 64 << 20
_RETRY_STATUS = {429, 500, 502, 503, 504}


class RateLimiter:
    """At most `per_second` calls a second across threads (None: unlimited)."""

    def __init__(self, per_second: float | None) -> None:
        self._interval = 0.0 if not per_second else 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)


@dataclass
class _Answer:
    predictions: list[Any]
    probabilities: list[list[float]] | None
    classes: list[str] | None
    scores: list[float] | None


class HttpModel:
    kind = "http"

    def __init__(self, url: str, *, allow: Sequence[str] = (), spec: EndpointSpec | None = None,
                 headers: Mapping[str, str] | None = None, resolver: Resolver = system_resolver,
                 backoff: float = 0.25) -> None:
        self._spec = spec or EndpointSpec()
        self._target = pin_endpoint(url, allow, resolver)
        self._headers = {**(headers or {}), "Host": self._target.host_header,
                         "Content-Type": "application/json", "Accept": "application/json"}
        self._backoff = backoff
        self._limiter = RateLimiter(self._spec.rate_limit)
        self.description = f"HTTP endpoint {self._target.scheme}://{self._target.host_header}{self._target.path}"
        self.requests = 0

    def inputs(self) -> list[InputSpec] | None:
        return None

    def classes(self) -> list[str] | None:
        return None

    def predict(self, frame: pl.DataFrame) -> Predictions:
        size = self._spec.batch_size
        batches = [frame.slice(start, size) for start in range(0, frame.height, size)]
        limits = httpx.Limits(max_connections=self._spec.concurrency)
        with httpx.Client(timeout=self._spec.timeout, follow_redirects=False, trust_env=False, limits=limits) as client:
            with ThreadPoolExecutor(max_workers=self._spec.concurrency) as pool:
                answers = list(pool.map(lambda batch: self._call(client, batch), batches))
        return _merge(answers)

    def _call(self, client: httpx.Client, batch: pl.DataFrame) -> _Answer:
        body = json.dumps({"rows": batch.to_dicts()}, ensure_ascii=False, default=str).encode("utf-8")
        problem, error = "", EndpointError
        for attempt in range(self._spec.retries + 1):
            if attempt:
                time.sleep(min(self._backoff * 2 ** (attempt - 1), 10.0))
            self._limiter.wait()
            try:
                status, content = self._post(client, body)
            except httpx.TimeoutException:
                problem, error = f"did not answer within {self._spec.timeout:g} s", EndpointTimeoutError
                continue
            except httpx.TransportError as exc:
                problem, error = f"could not be reached ({type(exc).__name__})", EndpointUnreachableError
                continue
            if status in _RETRY_STATUS:
                problem, error = f"answered HTTP {status}", EndpointError
                continue
            if status >= 300:
                raise EndpointError(f"endpoint {self.description} answered HTTP {status}: {_snippet(content)}")
            return _parse(content, batch.height)
        tries = self._spec.retries + 1
        raise error(f"endpoint {self.description} {problem} ({tries} tries); check that it is up, "
                    "or raise [endpoint].timeout / retries in the plan")

    def _post(self, client: httpx.Client, body: bytes) -> tuple[int, bytes]:
        self.requests += 1
        request = client.build_request("POST", self._target.request_url, content=body, headers=self._headers,
                                       extensions=self._target.extensions)
        response = client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            total = 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > MAX_ANSWER_BYTES:
                    raise EndpointError(f"endpoint {self.description} answered more than {MAX_ANSWER_BYTES >> 20} MB")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)
        finally:
            response.close()


def _snippet(content: bytes) -> str:
    text = content[:200].decode("utf-8", "replace").replace("\n", " ").strip()
    return repr(text) if text else "(empty body)"


def _garbage(detail: str) -> EndpointError:
    return EndpointGarbageError(f"endpoint returned garbage: {detail}; expected JSON "
                         "{\"predictions\": [...]} with one prediction per row")


def _parse(content: bytes, rows: int) -> _Answer:
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _garbage(f"not JSON ({_snippet(content)})") from None
    if isinstance(data, list):
        data = {"predictions": data}
    if not isinstance(data, dict) or not isinstance(data.get("predictions"), list):
        raise _garbage("no \"predictions\" list")
    predictions = data["predictions"]
    if len(predictions) != rows:
        raise _garbage(f"{len(predictions)} predictions for {rows} rows")
    if not all(isinstance(p, str | int | float | bool) for p in predictions):
        raise _garbage("a prediction is not a single value")
    return _Answer(predictions, _probabilities(data, rows), _classes(data), _scores(data, rows))


def _probabilities(data: dict[str, Any], rows: int) -> list[list[float]] | None:
    raw = data.get("probabilities")
    if raw is None:
        return None
    if (not isinstance(raw, list) or len(raw) != rows
            or not all(isinstance(r, list) and all(isinstance(v, int | float) for v in r) for r in raw)):
        raise _garbage("\"probabilities\" must hold one list of numbers per row")
    return [[float(v) for v in row] for row in raw]


def _classes(data: dict[str, Any]) -> list[str] | None:
    raw = data.get("classes")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(c, str | int | float | bool) for c in raw):
        raise _garbage("\"classes\" must list the class labels")
    return [canon_value(c) for c in raw]


def _scores(data: dict[str, Any], rows: int) -> list[float] | None:
    raw = data.get("scores")
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != rows or not all(isinstance(v, int | float) for v in raw):
        raise _garbage("\"scores\" must hold one number per row")
    return [float(v) for v in raw]


def _label_series(values: list[Any]) -> pl.Series:
    if all(isinstance(v, bool) for v in values):
        return pl.Series("prediction", values, dtype=pl.Boolean)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        dtype = pl.Int64 if all(isinstance(v, int) for v in values) else pl.Float64
        return pl.Series("prediction", values, dtype=dtype)
    return pl.Series("prediction", [canon_value(v) for v in values], dtype=pl.String)


def _merge(answers: list[_Answer]) -> Predictions:
    labels = _label_series([p for a in answers for p in a.predictions])
    classes = answers[0].classes if answers else None
    proba = None
    if answers and all(a.probabilities is not None for a in answers) and classes:
        matrix = np.array([row for a in answers for row in (a.probabilities or [])], dtype=np.float64)
        proba = matrix if matrix.ndim == 2 and matrix.shape[1] == len(classes) else None
    score = None
    if answers and all(a.scores is not None for a in answers):
        score = np.array([s for a in answers for s in (a.scores or [])], dtype=np.float64)
    return Predictions(labels, proba, classes if proba is not None else None, score)
