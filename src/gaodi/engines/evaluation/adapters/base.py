"""What every model adapter offers: its inputs, its classes, and predictions for a frame of features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InputSpec:
    """One input the model requires. `column` is None for a single matrix input of `width` columns."""

    name: str
    kind: str  # number | text | any
    column: str | None = None
    width: int | None = None


@dataclass
class Predictions:
    labels: pl.Series  # predicted labels (classification) or values (regression)
    proba: FloatArray | None = None  # (rows, classes) probabilities, when the model gives them
    classes: list[str] | None = None  # canonical label of each probability column
    score: FloatArray | None = None  # a positive-class score given directly (an endpoint's "scores")
    extra: dict[str, str] = field(default_factory=dict)

    def positive_score(self, positive: str) -> FloatArray | None:
        """Probability of the positive class, if the model reports probabilities for it."""
        if self.proba is None or self.classes is None or positive not in self.classes:
            return self.score
        return self.proba[:, self.classes.index(positive)].astype(np.float64, copy=False)


class Model(Protocol):
    kind: str
    description: str

    def inputs(self) -> list[InputSpec] | None:
        """The model's inputs, when the model declares them (None for an endpoint)."""

    def classes(self) -> list[str] | None:
        """Canonical labels the model can predict, when known."""

    def predict(self, frame: pl.DataFrame) -> Predictions:
        """Predict for every row of `frame`, whose columns are the plan's features in order."""
