"""Inter-annotator agreement: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha.

Plain functions over sequences of labels. Where the statistic is undefined (all raters always chose
one and the same category, so chance agreement is already perfect) they return ``None``, never 0 or
NaN. If a label schema is given, a label outside it is an error naming the label and where it is.

- `cohen_kappa(a, b, weights=None|"linear"|"quadratic", labels=None)`: two raters on the same items.
  The same definition as scikit-learn's ``cohen_kappa_score``: kappa = 1 - sum(w * O) / sum(w * E),
  O the confusion matrix, E the outer product of the marginals over n, w 1 - identity (unweighted),
  |i - j| (linear) or (i - j)² (quadratic) over the category indices.
- `fleiss_kappa(counts)` on an items × categories table of counts with the same number of raters per
  item (`ratings_to_counts` builds it from an items × raters table of labels): as statsmodels'
  ``fleiss_kappa(method="fleiss")``.
- `krippendorff_alpha(data, level="nominal"|"ordinal"|"interval"|"ratio")` on a raters × units table
  with ``None`` (or NaN) for missing ratings: alpha = 1 - D_o / D_e over the coincidence matrix of
  pairable values (units with at least two ratings), with Krippendorff's distance for each level
  (ordinal: (sum of n_g from c to k - (n_c + n_k)/2)², as the ``krippendorff`` package).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Weights = Literal["linear", "quadratic"] | None
Level = Literal["nominal", "ordinal", "interval", "ratio"]
F64 = npt.NDArray[np.float64]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _sort_key(value: Any) -> tuple[int, Any]:
    # numbers before text, each in natural order (mixed label types stay comparable)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return (0, float(value))
    return (1, str(value))


def _categories(values: Sequence[Hashable], labels: Sequence[Hashable] | None, what: str) -> list[Hashable]:
    if labels is None:
        return sorted(set(values), key=_sort_key)
    allowed = list(labels)
    if len(set(allowed)) != len(allowed):
        raise ValueError("the label schema lists a label twice")
    known = set(allowed)
    for i, v in enumerate(values):
        if v not in known:
            raise ValueError(f"label {v!r} ({what} {i + 1}) is not in the schema {allowed!r}")
    return allowed


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], *, weights: Weights = None,
                labels: Sequence[Hashable] | None = None) -> float | None:
    """Cohen's kappa of two raters' labels on the same items (optionally weighted)."""
    if len(a) != len(b):
        raise ValueError(f"the two raters labelled {len(a)} and {len(b)} items; they must label the same items")
    if len(a) == 0:
        raise ValueError("no items")
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    cats = _categories(list(a) + list(b), labels, "label")
    index = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    ia = np.fromiter((index[x] for x in a), dtype=np.int64, count=len(a))
    ib = np.fromiter((index[x] for x in b), dtype=np.int64, count=len(b))
    observed = np.zeros((k, k), dtype=np.float64)
    np.add.at(observed, (ia, ib), 1.0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    grid = np.arange(k, dtype=np.float64)
    if weights is None:
        w = 1.0 - np.eye(k)
    elif weights == "linear":
        w = np.abs(grid[:, None] - grid[None, :])
    else:
        w = (grid[:, None] - grid[None, :]) ** 2
    denominator = float((w * expected).sum())
    if denominator == 0.0:
        return None
    return 1.0 - float((w * observed).sum()) / denominator


def ratings_to_counts(ratings: Sequence[Sequence[Hashable]], labels: Sequence[Hashable] | None = None
                      ) -> tuple[npt.NDArray[np.int64], list[Hashable]]:
    """Items × raters labels → items × categories counts (and the category order)."""
    rows = [list(r) for r in ratings]
    flat = [v for r in rows for v in r]
    cats = _categories(flat, labels, "rating")
    index = {c: i for i, c in enumerate(cats)}
    counts = np.zeros((len(rows), len(cats)), dtype=np.int64)
    for i, row in enumerate(rows):
        for v in row:
            counts[i, index[v]] += 1
    return counts, cats


def fleiss_kappa(counts: npt.ArrayLike) -> float | None:
    """Fleiss' kappa from an items × categories table of counts (same number of raters per item)."""
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError("expected a non-empty items × categories table of counts")
    if (table < 0).any():
        raise ValueError("counts cannot be negative")
    per_item = table.sum(axis=1)
    raters = per_item[0]
    if not np.all(per_item == raters):
        bad = int(np.flatnonzero(per_item != raters)[0])
        raise ValueError(f"item {bad + 1} has {per_item[bad]:g} ratings, item 1 has {raters:g}: "
                         "Fleiss' kappa needs the same number of raters for every item")
    if raters < 2:
        raise ValueError("Fleiss' kappa needs at least two raters per item")
    p_cat = table.sum(axis=0) / table.sum()
    p_item = ((table * table).sum(axis=1) - raters) / (raters * (raters - 1.0))
    p_bar = float(p_item.mean())
    p_e = float((p_cat * p_cat).sum())
    if p_e == 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha(data: Sequence[Sequence[Any]], *, level: Level = "nominal",
                       value_domain: Sequence[Hashable] | None = None) -> float | None:
    """Krippendorff's alpha on a raters × units table; None or NaN marks a missing rating.

    For ``ordinal`` labels that are not numbers, give `value_domain` in order. ``interval`` and
    ``ratio`` need numbers.
    """
    rows = [list(r) for r in data]
    if not rows:
        raise ValueError("no raters")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ValueError("every rater's row must cover the same units (use None for a missing rating)")
    present = [v for r in rows for v in r if not _is_missing(v)]
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValueError(f"level must be nominal, ordinal, interval or ratio, not {level!r}")
    if value_domain is not None:
        domain = list(value_domain)
        known = set(domain)
        for r_i, row in enumerate(rows):
            for u_i, v in enumerate(row):
                if not _is_missing(v) and v not in known:
                    raise ValueError(f"rating {v!r} (rater {r_i + 1}, unit {u_i + 1}) is not in the value domain")
    else:
        domain = sorted(set(present), key=_sort_key)
    if level in ("interval", "ratio"):
        try:
            numeric = np.array([float(v) for v in domain], dtype=np.float64)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{level} alpha needs numeric ratings") from None
    else:
        numeric = np.arange(len(domain), dtype=np.float64)
    index = {v: i for i, v in enumerate(domain)}
    v = len(domain)
    counts = np.zeros((width, v), dtype=np.float64)  # units × values
    for row in rows:
        for u, value in enumerate(row):
            if not _is_missing(value):
                counts[u, index[value]] += 1
    m_u = counts.sum(axis=1)
    pairable = counts[m_u >= 2]
    if len(pairable) == 0 or v < 2:
        return None
    m = pairable.sum(axis=1)
    # coincidences: o_ck = sum over units of (n_uc * n_uk - [c == k] * n_uc) / (m_u - 1)
    scaled = pairable / (m - 1)[:, None]
    o = pairable.T @ scaled - np.diag(scaled.sum(axis=0))
    n_v = o.sum(axis=0)
    n = n_v.sum()
    e = (np.outer(n_v, n_v) - np.diag(n_v)) / (n - 1.0)
    d = _distance(level, numeric, n_v)
    expected = float((e * d).sum())
    if expected == 0.0:
        return None
    return 1.0 - float((o * d).sum()) / expected


def _distance(level: Level, values: F64, n_v: F64) -> F64:
    if level == "nominal":
        out: F64 = 1.0 - np.eye(len(values))
        return out
    if level == "interval":
        out = (values[:, None] - values[None, :]) ** 2
        return out
    if level == "ratio":
        total = values[:, None] + values[None, :]
        diff = values[:, None] - values[None, :]
        ratio = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0)
        out = ratio**2
        return out
    # ordinal: ranks in the value order, weighted by the pairable counts n_v
    cumulative = np.concatenate([[0.0], np.cumsum(n_v)])
    i = np.arange(len(values))
    lo = np.minimum(i[:, None], i[None, :])
    hi = np.maximum(i[:, None], i[None, :])
    between = cumulative[hi + 1] - cumulative[lo]
    out = (between - (n_v[:, None] + n_v[None, :]) / 2.0) ** 2
    return out
