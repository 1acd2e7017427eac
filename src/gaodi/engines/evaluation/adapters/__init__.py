"""Model adapters: ONNX and skops files, and HTTP endpoints behind the SSRF guard.

Pickle and joblib files are refused (`files.detect_format`); see `gaodi model pack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gaodi.engines.evaluation.adapters.base import InputSpec, Model, Predictions
from gaodi.engines.evaluation.adapters.files import detect_format
from gaodi.engines.evaluation.adapters.http_model import HttpModel
from gaodi.engines.evaluation.adapters.onnx_model import OnnxModel
from gaodi.engines.evaluation.adapters.skops_model import SkopsModel
from gaodi.engines.evaluation.adapters.ssrf import pin_endpoint

__all__ = [
    "HttpModel", "InputSpec", "Model", "OnnxModel", "Predictions", "SkopsModel", "detect_format",
    "load_model", "pin_endpoint",
]


def load_model(path: Path, *, trusted: Sequence[str] = ()) -> Model:
    """Open an ONNX or skops model file; pickle/joblib and unknown files raise ModelError."""
    if detect_format(path) == "onnx":
        return OnnxModel(path)
    return SkopsModel(path, trusted)
