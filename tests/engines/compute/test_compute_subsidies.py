"""Compute vouchers: stacking rules, caps, budgets, eligibility, and the properties that always hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaodi.engines.compute import (
    Eligibility,
    Enterprise,
    Level,
    StackingRules,
    SubsidyError,
    SubsidyLedger,
    SubsidyProgram,
    quote,
    redeem,
)

D = Decimal
Y24 = (date(2024, 1, 1), date(2024, 12, 31))
ON = date(2024, 6, 1)


def program(code: str, level: Level, rate: str, budget: str = "1000000", **kw) -> SubsidyProgram:
    return SubsidyProgram(code, code, level, D(rate), D(budget), *Y24, **kw)


SME = Enterprise("acme", is_sme=True, founded=date(2022, 3, 1), large_model_developer=True, district="xuhui")
LARGE = Enterprise("bigco", is_sme=False, founded=date(2001, 1, 1), district="pudong")


def test_quote_shows_list_price_each_subsidy_and_what_the_firm_pays() -> None:
    programs = [
        program("city", Level.CITY, "0.30", eligibility=Eligibility(sme=True)),
        program("llm", Level.CITY, "0.20", eligibility=Eligibility(large_model_developer=True)),
        program("xuhui", Level.DISTRICT, "0.10", district="xuhui"),
        program("startup", Level.DISTRICT, "0.05", district="xuhui", eligibility=Eligibility(max_startup_age_years=3)),
    ]
    q = quote(D("10000.00"), SME, ON, programs, StackingRules(city_rate_cap=D("0.40")))
    # City share capped at 40%: 30% + 10% of the 20% programme; then both district top-ups.
    assert [(line.program, line.rate, line.amount) for line in q.lines] == [
        ("city", D("0.30"), D("3000.00")),
        ("llm", D("0.10"), D("1000.00")),
        ("xuhui", D("0.10"), D("1000.00")),
        ("startup", D("0.05"), D("500.00")),
    ]
    assert "cut from 20% by the stacking cap" in q.lines[1].note
    assert q.subsidy == D("5500.00") and q.pays == D("4500.00") and q.combined_rate == D("0.55")
    text = q.explain()
    assert "List price ¥10,000.00" in text and "You pay ¥4,500.00" in text
    # A large firm elsewhere: nothing applies, and the quote says why.
    q2 = quote(D("10000.00"), LARGE, ON, programs)
    assert q2.lines == () and q2.pays == D("10000.00")
    reasons = dict(q2.skipped)
    assert "small and medium" in reasons["city"] and "xuhui" in reasons["xuhui"]
    old_xuhui = Enterprise("oldco", is_sme=True, founded=date(2010, 1, 1), district="xuhui")
    assert "start-ups founded at most 3 years ago" in dict(quote(D("1"), old_xuhui, ON, programs).skipped)["startup"]


def test_combined_rate_never_above_100_percent_district_is_cut_first() -> None:
    programs = [program("city", Level.CITY, "0.8"), program("d1", Level.DISTRICT, "0.5", district="xuhui")]
    q = quote(D("1000"), SME, ON, programs, StackingRules(city_rate_cap=D("1")))
    assert q.subsidy == D("1000.00") and q.pays == 0
    assert [line.rate for line in q.lines] == [D("0.8"), D("0.2")]
    q = quote(D("1000"), SME, ON, programs, StackingRules(city_rate_cap=D("1"), max_combined_rate=D("0.9")))
    assert q.subsidy == D("900.00") and q.pays == D("100.00")


def test_annual_caps_and_budget_are_respected_across_redemptions() -> None:
    city = program("city", Level.CITY, "0.5", budget="1200", per_enterprise_annual_cap=D("700"))
    rules = StackingRules(enterprise_annual_cap=D("1000"))
    ledger = SubsidyLedger()
    paid = []
    for _ in range(3):
        q = quote(D("1000"), SME, ON, [city], rules, ledger)
        redeem(q, [city], rules, ledger)
        paid.append(q.subsidy)
    assert paid == [D("500.00"), D("200.00"), D("0")]  # the firm's cap in the programme binds at 700
    other = Enterprise("other", is_sme=True)
    q = quote(D("2000"), other, ON, [city], rules, ledger)
    assert q.subsidy == D("500.00") and "budget" in q.lines[0].note  # 1200 - 700 left in the budget
    redeem(q, [city], rules, ledger)
    assert ledger.program_spent["city"] == D("1200.00")
    # next year the per-firm caps reset, the budget does not
    assert quote(D("1000"), SME, date(2024, 12, 31), [city], rules, ledger).subsidy == 0


def test_redeem_refuses_a_stale_quote_that_would_overspend() -> None:
    city = program("city", Level.CITY, "0.5", budget="600")
    ledger = SubsidyLedger()
    q1 = quote(D("1000"), SME, ON, [city], None, ledger)
    q2 = quote(D("1000"), SME, ON, [city], None, ledger)  # quoted before q1 was redeemed
    redeem(q1, [city], None, ledger)
    with pytest.raises(SubsidyError, match="not enough budget"):
        redeem(q2, [city], None, ledger)
    assert ledger.program_spent["city"] == D("500.00")


def test_expired_or_future_programs_do_not_apply() -> None:
    old = SubsidyProgram("old", "old", Level.CITY, D("0.3"), D("1e6"), date(2023, 1, 1), date(2023, 12, 31))
    q = quote(D("100"), SME, ON, [old])
    assert q.subsidy == 0 and "valid 2023-01-01 to 2023-12-31" in dict(q.skipped)["old"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"rate": D("1.2")}, "rate"),
        ({"rate": D("0")}, "rate"),
        ({"budget": D("-1")}, "budget"),
        ({"valid_from": date(2025, 1, 1)}, "valid_to"),
    ],
)
def test_bad_programs_are_refused(kw: dict, field: str) -> None:
    args = dict(code="x", name="x", level=Level.CITY, rate=D("0.3"), budget=D("10"), valid_from=Y24[0],
                valid_to=Y24[1])
    args.update(kw)
    with pytest.raises(SubsidyError) as e:
        SubsidyProgram(**args)
    assert e.value.field == field
    with pytest.raises(SubsidyError, match="district"):
        SubsidyProgram("d", "d", Level.DISTRICT, D("0.1"), D("1"), *Y24)
    with pytest.raises(SubsidyError, match="max_combined_rate"):
        StackingRules(max_combined_rate=D("1.1"))


rates = st.decimals(min_value=D("0.01"), max_value=D("1"), places=2)
money = st.decimals(min_value=D("0"), max_value=D("100000"), places=2)


@settings(max_examples=150, deadline=None)
@given(
    city=st.lists(st.tuples(rates, money, st.one_of(st.none(), money)), min_size=0, max_size=3),
    district=st.lists(st.tuples(rates, money, st.sampled_from(["xuhui", "pudong"])), min_size=0, max_size=3),
    city_cap=rates,
    combined=rates,
    firm_cap=st.one_of(st.none(), money),
    prices=st.lists(money, min_size=1, max_size=5),
)
def test_properties_rate_at_most_100_pays_non_negative_caps_respected(city, district, city_cap, combined, firm_cap,
                                                                       prices) -> None:
    programs = [program(f"c{i}", Level.CITY, str(r), str(b), per_enterprise_annual_cap=cap)
                for i, (r, b, cap) in enumerate(city)]
    programs += [program(f"d{i}", Level.DISTRICT, str(r), str(b), district=d) for i, (r, b, d) in enumerate(district)]
    rules = StackingRules(city_rate_cap=city_cap, max_combined_rate=combined, enterprise_annual_cap=firm_cap)
    ledger = SubsidyLedger()
    for price in prices:
        q = quote(price, SME, ON, programs, rules, ledger)
        assert q.pays >= 0
        assert q.subsidy <= price
        assert q.subsidy <= (price * combined)  # amounts are rounded down
        assert sum((line.rate for line in q.lines), D(0)) <= combined <= 1
        city_rate = sum((line.rate for line in q.lines if line.level is Level.CITY), D(0))
        assert city_rate <= city_cap
        assert all(line.amount > 0 for line in q.lines)
        redeem(q, programs, rules, ledger)
    for p in programs:
        assert ledger.program_spent[p.code] <= p.budget
        if p.per_enterprise_annual_cap is not None:
            assert ledger.firm_program_year[(SME.id, p.code, 2024)] <= p.per_enterprise_annual_cap
    if firm_cap is not None:
        assert ledger.firm_year[(SME.id, 2024)] <= firm_cap
    assert all(not p.code.startswith("d") or p.district == "xuhui" or ledger.program_spent[p.code] == 0
               for p in programs)


def test_lines_and_skips_carry_codes_and_parameters_with_the_plain_note() -> None:
    programs = [
        program("city", Level.CITY, "0.30", eligibility=Eligibility(sme=True)),
        program("llm", Level.CITY, "0.20", eligibility=Eligibility(large_model_developer=True)),
        program("xuhui", Level.DISTRICT, "0.10", district="xuhui"),
        program("startup", Level.DISTRICT, "0.05", district="xuhui", eligibility=Eligibility(max_startup_age_years=3)),
    ]
    q = quote(D("10000.00"), SME, ON, programs, StackingRules(city_rate_cap=D("0.40")))
    cut = q.lines[1].reasons
    assert [(r.code, dict(r.params)) for r in cut] == [("subsidy.rate_cut", {"rate": "20%", "applied": "10%"})]
    assert q.lines[1].note == cut[0].note == "rate cut from 20% by the stacking cap" and str(cut[0]) == cut[0].note
    assert q.lines[0].reasons == ()
    skipped = dict(quote(D("10000.00"), LARGE, ON, programs).skipped_reasons)
    assert skipped["city"].code == "subsidy.sme_only"
    assert (skipped["xuhui"].code, skipped["xuhui"].params["district"]) == ("subsidy.wrong_district", "xuhui")
    old = Enterprise("oldco", is_sme=True, founded=date(2010, 1, 1), district="xuhui")
    startup = dict(quote(D("1"), old, ON, programs).skipped_reasons)["startup"]
    assert (startup.code, startup.params) == ("subsidy.startup_too_old", {"max_years": "3"})
    assert startup.to_dict() == {"code": "subsidy.startup_too_old", "params": {"max_years": "3"},
                                 "note": "only for start-ups founded at most 3 years ago"}
    expired = SubsidyProgram("old", "old", Level.CITY, D("0.3"), D("1e6"), date(2023, 1, 1), date(2023, 12, 31))
    why = dict(quote(D("100"), SME, ON, [expired]).skipped_reasons)["old"]
    assert (why.code, why.params) == ("subsidy.not_valid", {"valid_from": "2023-01-01", "valid_to": "2023-12-31"})


def test_a_limit_that_leaves_nothing_is_the_skip_reason() -> None:
    city = program("city", Level.CITY, "0.5", budget="100")
    ledger = SubsidyLedger()
    redeem(quote(D("1000"), SME, ON, [city], None, ledger), [city], None, ledger)
    q = quote(D("1000"), SME, ON, [city], None, ledger)
    assert q.subsidy == 0
    code, why = q.skipped_reasons[0]
    assert (code, why.code) == ("city", "subsidy.limited.budget") and "budget" in why.note
    assert dict(q.skipped)["city"] == why.note
