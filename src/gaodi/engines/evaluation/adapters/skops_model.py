"""scikit-learn models stored with skops, loaded only when every type in the file is trusted.

skops lists the types a file would instantiate beyond its built-in safe set
(`skops.io.get_untrusted_types`). Loading goes ahead only when that list is empty or every entry
is in the list the user approved; otherwise the model is refused and the types are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters.base import InputSpec, Predictions
from gaodi.engines.evaluation.errors import ModelError
from gaodi.engines.evaluation.labels import canon_value


def _skops_io() -> Any:
    import skops.io as sio  # type: ignore[import-untyped]  # imports scikit-learn: only when needed

    return sio


def untrusted_types(path: Path) -> list[str]:
    sio = _skops_io()
    try:
        return sorted(str(t) for t in sio.get_untrusted_types(file=str(path)))
    except Exception as exc:
        raise ModelError(f"model file {path.name} is not a readable skops file ({_first_line(exc)})") from None


class SkopsModel:
    kind = "skops"

    def __init__(self, path: Path, trusted: Sequence[str] = ()) -> None:
        found = untrusted_types(path)
        refused = [t for t in found if t not in set(trusted)]
        if refused:
            raise ModelError(
                f"model file {path.name} would create types that are not trusted: {', '.join(refused)}; "
                "review them and, if they are safe, approve each one (command line: --trust TYPE)")
        try:
            self._estimator: Any = _skops_io().load(str(path), trusted=found or None)
        except Exception as exc:
            raise ModelError(f"model file {path.name} cannot be loaded ({_first_line(exc)})") from None
        if not hasattr(self._estimator, "predict"):
            raise ModelError(f"model file {path.name} holds a {type(self._estimator).__name__}, which cannot predict")
        self.description = f"skops model {path.name} ({type(self._estimator).__name__})"

    def inputs(self) -> list[InputSpec] | None:
        names = getattr(self._estimator, "feature_names_in_", None)
        if names is not None:
            return [InputSpec(str(n), "any", column=str(n)) for n in names]
        width = getattr(self._estimator, "n_features_in_", None)
        return [InputSpec("X", "number", None, int(width))] if width is not None else None

    def classes(self) -> list[str] | None:
        classes = getattr(self._estimator, "classes_", None)
        return None if classes is None else [canon_value(c.item() if hasattr(c, "item") else c) for c in classes]

    def predict(self, frame: pl.DataFrame) -> Predictions:
        named = getattr(self._estimator, "feature_names_in_", None) is not None
        features: Any = frame if named else frame.to_numpy()
        try:
            labels = np.asarray(self._estimator.predict(features))
            proba = self._proba(features)
        except Exception as exc:
            raise ModelError(f"the model failed to predict ({type(exc).__name__}: {_first_line(exc)})") from None
        values = labels.tolist() if labels.dtype.kind in "OUS" else labels
        return Predictions(pl.Series("prediction", values), proba, self.classes() if proba is not None else None)

    def _proba(self, features: Any) -> Any:
        if not hasattr(self._estimator, "predict_proba") or getattr(self._estimator, "classes_", None) is None:
            return None
        return np.asarray(self._estimator.predict_proba(features), dtype=np.float64)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:240] if lines else type(exc).__name__
