"""ONNX models, run with onnxruntime on the CPU.

Two input layouts are understood: one matrix input (rows x features, in the plan's feature order)
and one input per column named after the data column (as skl2onnx writes for pipelines with a
ColumnTransformer). Outputs: a label tensor, optionally followed by probabilities (a tensor, or a
sequence of maps as ZipMap writes); a regression model has one numeric output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import polars as pl

from gaodi.engines.evaluation.adapters.base import FloatArray, InputSpec, Predictions
from gaodi.engines.evaluation.errors import ModelError
from gaodi.engines.evaluation.labels import canon_value

_NUMBER = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
           "tensor(int32)": np.int32}
BATCH_ROWS = 65536


class OnnxModel:
    kind = "onnx"

    def __init__(self, path: Path) -> None:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"model file {path.name} is not a valid ONNX model ({_first_line(exc)})") from None
        meta = self._session.get_modelmeta().custom_metadata_map
        self._features: list[str] | None = _json_list(meta.get("gaodi.features"))
        self._classes: list[str] | None = _json_list(meta.get("gaodi.classes"))
        self._inputs = [_input_spec(i, many=len(self._session.get_inputs()) > 1)
                        for i in self._session.get_inputs()]
        self._types = {i.name: i.type for i in self._session.get_inputs()}
        self.description = f"ONNX model {path.name}"

    def inputs(self) -> list[InputSpec]:
        if len(self._inputs) == 1 and self._inputs[0].column is None and self._features:
            spec = self._inputs[0]
            return [InputSpec(spec.name, spec.kind, None, len(self._features))]
        return list(self._inputs)

    def feature_names(self) -> list[str] | None:
        """Column names recorded by `gaodi model pack`, for a matrix input."""
        return self._features

    def classes(self) -> list[str] | None:
        return self._classes

    def predict(self, frame: pl.DataFrame) -> Predictions:
        parts = [self._predict_batch(frame.slice(start, BATCH_ROWS)) for start in range(0, frame.height, BATCH_ROWS)]
        if not parts:
            return Predictions(pl.Series("prediction", []))
        labels = pl.concat([p.labels for p in parts])
        probas = [p.proba for p in parts]
        proba = None if any(p is None for p in probas) else np.vstack([p for p in probas if p is not None])
        return Predictions(labels, proba, parts[0].classes)

    def _predict_batch(self, frame: pl.DataFrame) -> Predictions:
        feeds = self._feeds(frame)
        try:
            outputs = self._session.run(None, feeds)
        except Exception as exc:
            raise ModelError(f"the ONNX model failed to predict ({_first_line(exc)})") from None
        return self._read_outputs(outputs)

    def _feeds(self, frame: pl.DataFrame) -> dict[str, Any]:
        if len(self._inputs) == 1 and self._inputs[0].column is None:
            spec = self._inputs[0]
            return {spec.name: _matrix(frame, self._types[spec.name])}
        return {spec.name: _column(frame, spec.name, self._types[spec.name]) for spec in self._inputs}

    def _read_outputs(self, outputs: list[Any]) -> Predictions:
        labels = np.asarray(outputs[0]).ravel()
        if labels.dtype.kind in "fc" and len(outputs) == 1:
            return Predictions(pl.Series("prediction", labels.astype(np.float64)))
        series = pl.Series("prediction", labels.tolist() if labels.dtype.kind in "OUS" else labels)
        if len(outputs) < 2:
            return Predictions(series, None, self._classes)
        proba, classes = _probabilities(outputs[1], self._classes, labels)
        return Predictions(series, proba, classes)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:240] if lines else type(exc).__name__


def _json_list(text: str | None) -> list[str] | None:
    if not text:
        return None
    value = json.loads(text)
    return [str(v) for v in value] if isinstance(value, list) else None


def _input_spec(node: Any, *, many: bool) -> InputSpec:
    kind = "text" if node.type == "tensor(string)" else "number" if node.type in _NUMBER else "any"
    if many:
        return InputSpec(node.name, kind, column=node.name)
    shape = list(node.shape or [])
    width = shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
    return InputSpec(node.name, kind, None, width)


def _matrix(frame: pl.DataFrame, onnx_type: str) -> Any:
    if onnx_type == "tensor(string)":
        return np.array(frame.cast(pl.String).fill_null("").rows(), dtype=object)
    dtype = _NUMBER.get(onnx_type, np.float32)
    for name, column_type in frame.schema.items():
        if not (column_type.is_numeric() or column_type == pl.Boolean):
            raise ModelError(f"column '{name}' holds text but the ONNX model's input expects numbers "
                             f"({onnx_type}); encode it as numbers or pack the model with its preprocessing")
    return frame.cast({c: pl.Float64 for c in frame.columns}).to_numpy().astype(dtype)


def _column(frame: pl.DataFrame, name: str, onnx_type: str) -> Any:
    series = frame.get_column(name)
    if onnx_type == "tensor(string)":
        values = series.cast(pl.String).fill_null("").to_numpy().astype(object)
        return values.reshape(-1, 1)
    if not (series.dtype.is_numeric() or series.dtype == pl.Boolean):
        raise ModelError(f"column '{name}' holds text but the ONNX model's input '{name}' expects numbers ({onnx_type})")
    dtype = _NUMBER.get(onnx_type, np.float32)
    values = series.cast(pl.Float64).to_numpy()
    if np.issubdtype(dtype, np.integer) and np.isnan(values).any():
        raise ModelError(f"column '{name}' has missing values but the model's input '{name}' is an integer tensor")
    return values.astype(dtype).reshape(-1, 1)


def _probabilities(raw: Any, known: list[str] | None, labels: Any) -> tuple[FloatArray | None, list[str] | None]:
    if isinstance(raw, list):  # ZipMap: one {class: probability} map per row
        if not raw:
            return None, known
        keys = list(raw[0].keys())
        proba = np.array([[row[k] for k in keys] for row in raw], dtype=np.float64)
        return proba, [canon_value(k) for k in keys]
    proba = np.asarray(raw, dtype=np.float64)
    if proba.ndim != 2:
        return None, known
    if known is not None and len(known) == proba.shape[1]:
        return proba, known
    if proba.shape[1] == 2 and labels.dtype.kind in "iub" and set(np.unique(labels).tolist()) <= {0, 1}:
        return proba, ["0", "1"]
    return None, known
