"""Compute vouchers (算力券): subsidy programs, stacking rules and quotes, in Decimal yuan.

Art. 12 asks the public compute platform to support firms "through compute rewards, subsidies and
price discounts" and to guarantee SMEs affordable access. A *program* is one source of money (the
city's voucher, a district's top-up) with a rate, a budget, a validity period, an eligibility rule
and optionally a per-enterprise annual cap. A *quote* applies every program the firm qualifies for to
a list price under the stacking rules:

1. programs are considered city first, then district, each group by descending rate (then code);
2. city programs together cover at most ``city_rate_cap`` of the list price (the "city share");
3. district programs top up only for firms registered in that district;
4. all programs together never cover more than ``max_combined_rate`` (at most 100%);
5. each line is also limited by the program's remaining budget, the program's per-enterprise annual
   cap, and ``enterprise_annual_cap`` (all programs together, per firm per calendar year).

Amounts are rounded *down* to the fen, so the lines never add up to more than the rates allow and the
firm pays ``list_price - sum(lines) >= 0``. :class:`SubsidyLedger` holds what was spent;
:func:`redeem` records a quote and refuses one that would now overspend (the Django service does the
same under a database lock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from gaodi.engines.compute.errors import SubsidyError
from gaodi.engines.compute.reasons import Reason, join_notes

ZERO = Decimal("0")
ONE = Decimal("1")
FEN = Decimal("0.01")


def money(value: Decimal | int | str) -> Decimal:
    """A Decimal amount rounded to the fen (half up), for prices and list amounts."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


class Level(StrEnum):
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True)
class Enterprise:
    """The facts eligibility rules look at."""

    id: str
    is_sme: bool
    founded: date | None = None
    large_model_developer: bool = False
    district: str | None = None

    def age_years(self, on: date) -> float | None:
        if self.founded is None:
            return None
        return (on - self.founded).days / 365.25


@dataclass(frozen=True)
class Eligibility:
    """Conditions that must all hold (an unset condition is not checked)."""

    sme: bool = False
    max_startup_age_years: float | None = None
    large_model_developer: bool = False

    def check(self, enterprise: Enterprise, on: date) -> str | None:
        """None when eligible, else the reason in plain words."""
        reason = self.reason(enterprise, on)
        return None if reason is None else reason.note

    def reason(self, enterprise: Enterprise, on: date) -> Reason | None:
        """None when eligible, else why not, with its code (see :mod:`.reasons`)."""
        if self.sme and not enterprise.is_sme:
            return Reason("subsidy.sme_only", {}, "only for small and medium enterprises")
        if self.max_startup_age_years is not None:
            years = f"{self.max_startup_age_years:g}"
            age = enterprise.age_years(on)
            if age is None:
                return Reason("subsidy.startup_age_unknown", {"max_years": years},
                              "only for start-ups, and the firm's founding date is unknown")
            if age > self.max_startup_age_years:
                return Reason("subsidy.startup_too_old", {"max_years": years},
                              f"only for start-ups founded at most {years} years ago")
        if self.large_model_developer and not enterprise.large_model_developer:
            return Reason("subsidy.large_model_only", {}, "only for large-model developers")
        return None


@dataclass(frozen=True)
class SubsidyProgram:
    code: str
    name: str
    level: Level
    rate: Decimal
    budget: Decimal
    valid_from: date
    valid_to: date
    eligibility: Eligibility = field(default_factory=Eligibility)
    district: str | None = None
    per_enterprise_annual_cap: Decimal | None = None
    providers: frozenset[str] | None = None  # compute bought from these providers only; None: any

    def __post_init__(self) -> None:
        where = f"program {self.code!r}"
        if not self.code:
            raise SubsidyError("code", "is empty", "give the program a code", where="program")
        if not ZERO < self.rate <= ONE:
            raise SubsidyError("rate", f"must be above 0 and at most 1 (100%), got {self.rate}",
                               "write the rate as a fraction, e.g. 0.3 for 30%", where=where)
        if self.budget < ZERO:
            raise SubsidyError("budget", f"is negative ({self.budget})", "give the budget in yuan, at least 0",
                               where=where)
        if self.valid_to < self.valid_from:
            raise SubsidyError("valid_to", f"{self.valid_to} is before valid_from {self.valid_from}",
                               "swap the dates or fix the end of the validity period", where=where)
        if self.level is Level.DISTRICT and not self.district:
            raise SubsidyError("district", "a district program needs its district", "name the district",
                               where=where)
        if self.per_enterprise_annual_cap is not None and self.per_enterprise_annual_cap < ZERO:
            raise SubsidyError("per_enterprise_annual_cap", "is negative", "give a cap of at least 0", where=where)

    def why_not(self, enterprise: Enterprise, on: date, provider: str | None) -> str | None:
        """None when the program applies to this firm, day and provider; else the reason."""
        reason = self.why_not_reason(enterprise, on, provider)
        return None if reason is None else reason.note

    def why_not_reason(self, enterprise: Enterprise, on: date, provider: str | None) -> Reason | None:
        """:meth:`why_not` with its code (see :mod:`.reasons`)."""
        if not self.valid_from <= on <= self.valid_to:
            return Reason("subsidy.not_valid", {"valid_from": self.valid_from.isoformat(),
                                                "valid_to": self.valid_to.isoformat()},
                          f"valid {self.valid_from} to {self.valid_to}")
        if self.level is Level.DISTRICT and enterprise.district != self.district:
            return Reason("subsidy.wrong_district", {"district": self.district or ""},
                          f"only for firms registered in {self.district}")
        if self.providers is not None and provider not in self.providers:
            return Reason("subsidy.wrong_provider", {"provider": provider or ""}, "not for this provider")
        return self.eligibility.reason(enterprise, on)


@dataclass(frozen=True)
class StackingRules:
    city_rate_cap: Decimal = Decimal("0.5")
    max_combined_rate: Decimal = ONE
    enterprise_annual_cap: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("city_rate_cap", "max_combined_rate"):
            value: Decimal = getattr(self, name)
            if not ZERO <= value <= ONE:
                raise SubsidyError(name, f"must be between 0 and 1, got {value}",
                                   "write it as a fraction of the list price (1 = 100%)", where="stacking rules")
        if self.enterprise_annual_cap is not None and self.enterprise_annual_cap < ZERO:
            raise SubsidyError("enterprise_annual_cap", "is negative", "give a cap of at least 0",
                               where="stacking rules")


@dataclass
class SubsidyLedger:
    """Money already granted: per program, per program and firm and year, per firm and year."""

    program_spent: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    firm_program_year: dict[tuple[str, str, int], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    firm_year: dict[tuple[str, int], Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))

    @property
    def total(self) -> Decimal:
        return sum(self.program_spent.values(), ZERO)


@dataclass(frozen=True)
class SubsidyLine:
    program: str
    name: str
    level: Level
    rate: Decimal  # the rate applied after the stacking caps
    amount: Decimal
    note: str = ""  # which limit bound, in plain words, if any
    reasons: tuple[Reason, ...] = ()  # the same, with codes and parameters (see .reasons)


@dataclass(frozen=True)
class Quote:
    enterprise: str
    on: date
    list_price: Decimal
    lines: tuple[SubsidyLine, ...]
    skipped: tuple[tuple[str, str], ...]  # (program, why it does not apply)
    skipped_reasons: tuple[tuple[str, Reason], ...] = ()  # the same, with codes and parameters

    @property
    def subsidy(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def pays(self) -> Decimal:
        return self.list_price - self.subsidy

    @property
    def combined_rate(self) -> Decimal:
        return self.subsidy / self.list_price if self.list_price else ZERO

    def explain(self) -> str:
        out = [f"List price ¥{self.list_price:,.2f}"]
        for line in self.lines:
            note = f" ({line.note})" if line.note else ""
            out.append(f"- {line.name} [{line.level}] {line.rate:.0%}: −¥{line.amount:,.2f}{note}")
        for code, why in self.skipped:
            out.append(f"- {code} does not apply: {why}")
        out.append(f"You pay ¥{self.pays:,.2f}")
        return "\n".join(out)


def _order(programs: Iterable[SubsidyProgram]) -> list[SubsidyProgram]:
    return sorted(programs, key=lambda p: (p.level is not Level.CITY, -p.rate, p.code))


def quote(
    list_price: Decimal,
    enterprise: Enterprise,
    on: date,
    programs: Sequence[SubsidyProgram],
    rules: StackingRules | None = None,
    ledger: SubsidyLedger | None = None,
    *,
    provider: str | None = None,
) -> Quote:
    """Apply every applicable program to ``list_price`` under ``rules``; nothing is recorded."""
    if list_price < ZERO:
        raise SubsidyError("list_price", f"is negative ({list_price})", "quote a price of at least 0")
    rules = rules or StackingRules()
    ledger = ledger or SubsidyLedger()
    year = on.year
    city_left = min(rules.city_rate_cap, rules.max_combined_rate)
    combined_left = rules.max_combined_rate
    firm_left = (None if rules.enterprise_annual_cap is None
                 else max(ZERO, rules.enterprise_annual_cap - ledger.firm_year[(enterprise.id, year)]))
    price_left = list_price
    lines: list[SubsidyLine] = []
    skipped: list[tuple[str, Reason]] = []
    for program in _order(programs):
        why = program.why_not_reason(enterprise, on, provider)
        if why is not None:
            skipped.append((program.code, why))
            continue
        room = combined_left if program.level is Level.DISTRICT else min(city_left, combined_left)
        rate = min(program.rate, room)
        if rate <= ZERO:
            skipped.append((program.code, Reason("subsidy.stacking_cap_reached", {},
                                                 "the stacking cap is already reached")))
            continue
        notes: list[Reason] = []
        if rate < program.rate:
            notes.append(Reason("subsidy.rate_cut", {"rate": f"{program.rate:.0%}", "applied": f"{rate:.0%}"},
                                f"rate cut from {program.rate:.0%} by the stacking cap"))
        amount = (list_price * rate).quantize(FEN, rounding=ROUND_DOWN)
        limits: list[tuple[Decimal, str, str]] = [
            (max(ZERO, program.budget - ledger.program_spent[program.code]), "subsidy.limited.budget",
             "program budget nearly spent"),
            (price_left, "subsidy.limited.nothing_left", "nothing left to pay"),
        ]
        if program.per_enterprise_annual_cap is not None:
            used = ledger.firm_program_year[(enterprise.id, program.code, year)]
            limits.append((max(ZERO, program.per_enterprise_annual_cap - used), "subsidy.limited.firm_program_cap",
                           "firm's annual cap in this program"))
        if firm_left is not None:
            limits.append((firm_left, "subsidy.limited.firm_annual_cap", "firm's annual cap across all programs"))
        for limit, code, why_limited in limits:
            if limit < amount:
                amount = limit.quantize(FEN, rounding=ROUND_DOWN)
                notes.append(Reason(code, {"limit": f"{amount:.2f}"}, f"limited by the {why_limited}"))
        if amount <= ZERO:
            # The last limit is the one that left nothing; the note keeps every limit that bound.
            limited = [n for n in notes if n.code.startswith("subsidy.limited.")]
            binding = limited[-1] if limited else Reason("subsidy.nothing_to_grant", {}, "nothing to grant")
            skipped.append((program.code, Reason(binding.code, binding.params, join_notes(notes) or binding.note)))
            continue
        lines.append(SubsidyLine(program.code, program.name, program.level, rate, amount, join_notes(notes),
                                 tuple(notes)))
        price_left -= amount
        if firm_left is not None:
            firm_left -= amount
        combined_left -= rate
        if program.level is Level.CITY:
            city_left -= rate
    return Quote(enterprise.id, on, list_price, tuple(lines), tuple((code, r.note) for code, r in skipped),
                 tuple(skipped))


def redeem(q: Quote, programs: Sequence[SubsidyProgram], rules: StackingRules | None,
           ledger: SubsidyLedger) -> None:
    """Record a quote in the ledger; refuse (SubsidyError) if a budget or cap would now be exceeded."""
    rules = rules or StackingRules()
    by_code = {p.code: p for p in programs}
    year = q.on.year
    firm_total = ledger.firm_year[(q.enterprise, year)] + q.subsidy
    if rules.enterprise_annual_cap is not None and firm_total > rules.enterprise_annual_cap:
        raise SubsidyError("quote", "the firm's annual subsidy cap would be exceeded", "ask for a new quote",
                           where=q.enterprise)
    for line in q.lines:
        program = by_code.get(line.program)
        if program is None:
            raise SubsidyError("program", f"unknown program {line.program!r}", "quote against the current programs")
        if ledger.program_spent[program.code] + line.amount > program.budget:
            raise SubsidyError("quote", f"program {program.code} has not enough budget left", "ask for a new quote",
                               where=q.enterprise)
        cap = program.per_enterprise_annual_cap
        if cap is not None and ledger.firm_program_year[(q.enterprise, program.code, year)] + line.amount > cap:
            raise SubsidyError("quote", f"the firm's annual cap in {program.code} would be exceeded",
                               "ask for a new quote", where=q.enterprise)
    for line in q.lines:
        ledger.program_spent[line.program] += line.amount
        ledger.firm_program_year[(q.enterprise, line.program, year)] += line.amount
    ledger.firm_year[(q.enterprise, year)] = firm_total
