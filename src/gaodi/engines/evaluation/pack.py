"""`gaodi model pack`: convert a pickled scikit-learn model to ONNX or skops, ON THE OWNER'S MACHINE.

This is the one place in Gaodi that unpickles a file, because a pickle is what scikit-learn users
have. Unpickling runs whatever code the file names, so this runs only where the model owner runs it,
on a file they made; the platform itself never loads pickle or joblib (see adapters/files.py).
After converting, the packed model is loaded back through the platform's own adapter and its
predictions on the sample are compared with the original model's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters import load_model
from gaodi.engines.evaluation.adapters.skops_model import untrusted_types
from gaodi.engines.evaluation.data import read_table
from gaodi.engines.evaluation.errors import EvaluationError, ModelError
from gaodi.engines.evaluation.labels import canon

PACK_WARNING = (
    "WARNING: `gaodi model pack` unpickles the model file, and unpickling runs any code inside it. "
    "Run it only on your own machine, with a model file you made yourself. Never upload pickle or "
    "joblib files: the platform refuses them; upload the ONNX or skops file this command writes.")
SKL2ONNX_MISSING = ("converting to ONNX needs skl2onnx on this machine: pip install 'gaodi[pack]' "
                    "(or use --format skops, which needs nothing more)")


@dataclass(frozen=True)
class PackReport:
    out: Path
    format: str
    features: list[str]
    rows_checked: int
    agreement: float
    untrusted_types: list[str]


def unpickle(path: Path) -> Any:
    """Load a pickle or joblib file. Runs code from the file: owner's machine only."""
    import joblib  # type: ignore[import-untyped]

    try:
        return joblib.load(path)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except Exception as exc:
        raise ModelError(f"model file {path.name} cannot be unpickled ({type(exc).__name__}: {exc})") from None


def model_features(estimator: Any, sample: pl.DataFrame) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        features = [str(n) for n in names]
        missing = [f for f in features if f not in sample.columns]
        if missing:
            raise EvaluationError(f"the sample lacks the model's input column(s) {', '.join(missing)}")
        return features
    width = getattr(estimator, "n_features_in_", None)
    if width is None or width != sample.width:
        raise EvaluationError(f"the model takes {width} unnamed input columns; give a sample with exactly those "
                              f"columns, in order (it has {sample.width})")
    return list(sample.columns)


def pack_model(model_path: Path, fmt: str, sample_path: Path, out: Path) -> PackReport:
    if fmt not in ("onnx", "skops"):
        raise EvaluationError(f"--format must be onnx or skops, got {fmt!r}")
    estimator = unpickle(model_path)
    if not hasattr(estimator, "predict"):
        raise ModelError(f"{model_path.name} holds a {type(estimator).__name__}, not a model with predict()")
    sample = read_table(sample_path).frame
    features = model_features(estimator, sample)
    frame = sample.select(features)
    if fmt == "skops":
        to_skops(estimator, out)
        untrusted = untrusted_types(out)
    else:
        to_onnx(estimator, frame, features, out)
        untrusted = []
    agreement = _agreement(estimator, frame, out, untrusted, bool(getattr(estimator, "feature_names_in_", None) is not None))
    return PackReport(out, fmt, features, frame.height, agreement, untrusted)


def to_skops(estimator: Any, out: Path) -> None:
    import skops.io as sio  # type: ignore[import-untyped]

    sio.dump(estimator, str(out))


def _initial_types(frame: pl.DataFrame, named: bool) -> list[tuple[str, Any]]:
    try:
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # type: ignore[import-untyped]
    except ImportError:
        raise EvaluationError(SKL2ONNX_MISSING) from None
    if not named:
        return [("X", FloatTensorType([None, frame.width]))]
    return [(name, FloatTensorType([None, 1]) if dtype.is_numeric() or dtype == pl.Boolean else StringTensorType([None, 1]))
            for name, dtype in frame.schema.items()]


def to_onnx(estimator: Any, frame: pl.DataFrame, features: list[str], out: Path) -> None:
    named = getattr(estimator, "feature_names_in_", None) is not None
    types = _initial_types(frame, named)
    from skl2onnx import convert_sklearn  # type: ignore[import-untyped]

    options = {"zipmap": False} if hasattr(estimator, "classes_") else None
    try:
        onx = convert_sklearn(estimator, initial_types=types, options=options)
    except Exception as exc:
        raise ModelError(f"skl2onnx cannot convert this model ({type(exc).__name__}: {exc}); try --format skops") from None
    _meta(onx, "gaodi.features", json.dumps(features, ensure_ascii=False))
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        _meta(onx, "gaodi.classes", json.dumps([c.item() if hasattr(c, "item") else c for c in classes]))
    out.write_bytes(onx.SerializeToString())


def _meta(onx: Any, key: str, value: str) -> None:
    entry = onx.metadata_props.add()
    entry.key, entry.value = key, value


def _agreement(estimator: Any, frame: pl.DataFrame, out: Path, trusted: list[str], named: bool) -> float:
    packed = load_model(out, trusted=trusted)
    mine = packed.predict(frame).labels
    theirs = np.asarray(estimator.predict(frame if named else frame.to_numpy()))
    reference = pl.Series("reference", theirs.tolist() if theirs.dtype.kind in "OUS" else theirs)
    if reference.dtype.is_float() and mine.dtype.is_float():
        close = np.isclose(mine.to_numpy(), reference.to_numpy(), rtol=1e-4, atol=1e-6)
        return float(close.mean())
    return float(np.mean((canon(mine) == canon(reference)).fill_null(False).to_numpy()))
