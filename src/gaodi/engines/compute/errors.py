"""Errors of the compute engine: every refusal names the field (and row) at fault and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ComputeInputError(ValueError):
    """Bad input to the compute engine. ``field`` names what is wrong; ``fix`` says what to do.

    A ValueError subclass, so callers that only know "bad value" still catch it. ``str()`` reads as
    one sentence: ``"<where>: <field>: <problem>; fix: <fix>"``.
    """

    def __init__(self, field: str, problem: str, fix: str, *, where: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{field}: {problem}; fix: {fix}")


class RequestError(ComputeInputError):
    """A job request that cannot be accepted (negative resources, unknown accelerator, past deadline...)."""


class CatalogError(ComputeInputError):
    """A catalog file that does not validate; ``where`` names the file and the table row."""


class TraceError(ComputeInputError):
    """A job trace CSV that cannot be replayed; ``where`` names the file and the line."""


class SubsidyError(ComputeInputError):
    """A subsidy program or stacking rule that does not make sense (rate above 100%, negative budget...)."""


class NoFeasiblePool(LookupError):
    """No pool in the catalog can run the request; ``reasons`` maps each pool id to why not.

    ``codes`` maps each pool id to the same reason with its code and parameters (a
    :class:`gaodi.engines.compute.reasons.Reason`), when the placement gave one.
    """

    def __init__(self, message: str, reasons: dict[str, str], codes: Mapping[str, Any] | None = None) -> None:
        self.reasons = reasons
        self.codes = dict(codes or {})
        lines = "; ".join(f"{pool}: {why}" for pool, why in sorted(reasons.items()))
        super().__init__(f"{message}. {lines}" if lines else message)
