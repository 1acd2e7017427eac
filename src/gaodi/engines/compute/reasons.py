"""Machine-readable explanations: why a subsidy was cut or skipped, why a pool was rejected or chosen.

A :class:`Reason` carries a stable ``code`` (e.g. ``"placement.data_residency"``), the ``params`` that
fill it in (JSON values only: text, numbers, booleans and lists of text, so it can be stored and sent
as JSON) and ``note``, the same thing in plain English for logs, the CLI and anyone who reads the
engine's output directly. An application renders the code and parameters in its own language;
``str(reason)`` is the note.

Codes are part of the engine's interface: a new code may be added, an existing one keeps its meaning
and parameters. The codes in use, and their parameters:

Subsidies (:mod:`.subsidies`)
    ``subsidy.rate_cut`` (``rate``, ``applied``: percentages as text, e.g. ``"30%"``),
    ``subsidy.limited.budget``, ``subsidy.limited.nothing_left``, ``subsidy.limited.firm_program_cap``,
    ``subsidy.limited.firm_annual_cap`` (``limit``: yuan as text),
    ``subsidy.not_valid`` (``valid_from``, ``valid_to``: ISO dates), ``subsidy.wrong_district``
    (``district``), ``subsidy.wrong_provider`` (``provider``), ``subsidy.sme_only``,
    ``subsidy.startup_age_unknown`` / ``subsidy.startup_too_old`` (``max_years``),
    ``subsidy.large_model_only``, ``subsidy.stacking_cap_reached``, ``subsidy.nothing_to_grant``.
Placement (:mod:`.placement`), why a pool was not considered
    ``placement.backend_failed`` (``reason``: what the backend said, may be empty),
    ``placement.wrong_model`` (``has``, ``wanted``: list), ``placement.data_residency``
    (``data_region``, ``site_region``), ``placement.too_few_accelerators`` (``has``, ``asked``),
    ``placement.too_few_per_node`` (``has``, ``asked``), ``placement.too_few_nodes`` (``has``, ``asked``),
    ``placement.too_little_memory`` (``has``, ``asked``: GB), ``placement.after_deadline`` (``finish``,
    ``deadline``: ISO times, ``wait_hours``), ``placement.over_budget`` (``cost``, ``budget_cap``: yuan).
Placement, why the chosen pool (:meth:`.placement.Placement.explanation`)
    ``explain.chosen`` (``pool``, ``accelerator``, ``site``, ``hub``, ``region``, ``provider``,
    ``backend``), ``explain.why`` (``feasible``, ``preference``, ``accelerators``, ``models``: list,
    ``hours``, ``workload``), ``explain.cost`` (``list_price``, ``subsidy``, ``after_subsidy``,
    ``data_transfer``, ``latency_penalty``, ``carbon``, ``emissions_kg``, ``effective``, ``pays``),
    ``explain.start`` (``wait_hours``, ``finish``), ``explain.data_stays`` (``data_region``),
    ``explain.next`` (``pool``, ``accelerator``, ``site``, ``hub``, ``region``, ``provider``,
    ``backend``, ``effective``, ``emissions_kg``, ``pays``, ``delta``: signed yuan, ``part``: one of
    ``compute_after_subsidy``, ``data_transfer``, ``latency_penalty``, ``carbon``, or empty when no part
    differs, ``part_delta``: signed yuan, ``finish``), ``explain.failed`` (``pools``: list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ParamValue = str | int | float | bool | list[str]


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, ParamValue] = field(default_factory=dict, hash=False)
    note: str = ""

    def __str__(self) -> str:
        return self.note

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params), "note": self.note}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reason:
        params = data.get("params") or {}
        return cls(str(data.get("code", "")), dict(params) if isinstance(params, Mapping) else {},
                   str(data.get("note", "")))


def join_notes(reasons: Sequence[Reason]) -> str:
    """The notes of several reasons as one line ("; "-separated), the engine's older text form."""
    return "; ".join(r.note for r in reasons if r.note)
