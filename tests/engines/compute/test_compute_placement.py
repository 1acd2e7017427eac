"""Requests, placement ranking, data residency, explanation and failover."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaodi.engines.compute import (
    Availability,
    DataGrade,
    Eligibility,
    Enterprise,
    JobRequest,
    Level,
    NoFeasiblePool,
    Preference,
    RequestError,
    SubsidyProgram,
    Workload,
    failover,
    parse_catalog,
    place,
    validate_request,
)

NOW = datetime(2024, 6, 1, 9, 0)


def catalog():
    """Three sites with round numbers, so every cost can be worked out by hand."""
    return parse_catalog({
        "catalog_version": "test-1",
        "costs": {"cross_region_transfer_per_gb": 1, "inference_latency_per_ms_hour": 0.1,
                  "carbon_price_per_tonne": 100, "grid_emission_factor": 0.5},
        "accelerators": [
            {"model": "Ascend 910B", "vendor": "Huawei", "memory_gb": 64, "power_kw": 0.5},
            {"model": "A800", "vendor": "NVIDIA", "memory_gb": 80, "power_kw": 0.5},
        ],
        "providers": [{"id": "p-sh", "name": "SH"}, {"id": "p-west", "name": "West"}],
        "sites": [
            {"id": "sh", "provider": "p-sh", "name": "Shanghai", "hub": "yangtze_river_delta", "region": "shanghai",
             "pue": 1.0, "green_share": 0.0, "latency_ms": 2},
            {"id": "nx", "provider": "p-west", "name": "Ningxia", "hub": "ningxia", "region": "ningxia",
             "pue": 1.0, "green_share": 0.5, "latency_ms": 40},
            {"id": "gs", "provider": "p-west", "name": "Gansu", "hub": "gansu", "region": "gansu",
             "pue": 1.0, "green_share": 1.0, "latency_ms": 40},
        ],
        "pools": [
            {"id": "sh-910b", "site": "sh", "accelerator": "Ascend 910B", "count": 64, "price_per_hour": 10,
             "backend": "slurm"},
            {"id": "nx-910b", "site": "nx", "accelerator": "Ascend 910B", "count": 512, "price_per_hour": 8,
             "backend": "slurm"},
            {"id": "gs-a800", "site": "gs", "accelerator": "A800", "count": 64, "price_per_hour": 9,
             "backend": "ray"},
        ],
    })


def req(**kw) -> JobRequest:
    base = dict(accelerators=8, accelerator_models=("Ascend 910B", "A800"), estimated_hours=10,
                data_region="shanghai")
    base.update(kw)
    return JobRequest(**base)


def test_ranking_by_effective_cost_with_hand_computed_breakdown() -> None:
    p = place(req(data_size_gb=100), catalog(), now=NOW)
    # 80 accelerator-hours; energy 80 × 0.5 kW × PUE 1 = 40 kWh = 0.04 MWh.
    # sh: 800 + transfer 0 + carbon 0.04×1.0×0.5 t×100 = 2.00 -> 802.00
    # nx: 640 + transfer 100 + carbon 0.04×0.5×0.5×100 = 1.00 -> 741.00
    # gs: 720 + transfer 100 + carbon 0 -> 820.00
    assert [o.pool.id for o in p.ranked] == ["nx-910b", "sh-910b", "gs-a800"]
    nx, sh, gs = p.ranked
    assert (nx.cost.list_price, nx.cost.data_transfer, nx.cost.carbon, nx.cost.effective) == (
        Decimal("640.00"), Decimal("100.00"), Decimal("1.00"), Decimal("741.00"))
    assert sh.cost.effective == Decimal("802.00") and sh.cost.emissions_kg == Decimal("20.0")
    assert gs.cost.effective == Decimal("820.00") and gs.cost.emissions_kg == 0
    text = p.explain()
    assert "Chosen: nx-910b" in text and "lowest effective cost" in text
    assert "list ¥640.00" in text and "data transfer ¥100.00" in text and "carbon ¥1.00" in text
    assert "Next: sh-910b" in text and "¥61.00 more" in text


def test_subsidy_for_one_provider_changes_the_choice() -> None:
    program = SubsidyProgram("sh-only", "Shanghai voucher", Level.CITY, Decimal("0.3"), Decimal("1e6"),
                             date(2024, 1, 1), date(2024, 12, 31), Eligibility(sme=True),
                             providers=frozenset({"p-sh"}))
    sme = Enterprise("acme", is_sme=True)
    p = place(req(data_size_gb=100), catalog(), now=NOW, enterprise=sme, programs=[program])
    assert p.choice.pool.id == "sh-910b"  # 800 - 240 + 2 = 562 < 741
    assert p.choice.cost.subsidy == Decimal("240.00") and p.choice.cost.money == Decimal("560.00")
    large = Enterprise("big", is_sme=False)
    assert place(req(data_size_gb=100), catalog(), now=NOW, enterprise=large,
                 programs=[program]).choice.pool.id == "nx-910b"


def test_inference_pays_for_latency_and_preferences_change_the_order() -> None:
    p = place(req(workload=Workload.INFERENCE), catalog(), now=NOW)
    # latency penalty: 80 acc-h × 0.1 × ms: sh 16, nx 320, gs 320
    assert p.choice.pool.id == "sh-910b"
    assert p.choice.cost.latency_penalty == Decimal("16.00")
    green = place(req(preference=Preference.GREENEST), catalog(), now=NOW)
    assert green.choice.pool.id == "gs-a800" and "lowest emissions" in green.explain()
    avail = {"nx-910b": Availability(free=0, wait_hours=5), "gs-a800": Availability(free=64)}
    soon = place(req(preference=Preference.SOONEST), catalog(), now=NOW, availability=avail)
    assert soon.ranked[-1].pool.id == "nx-910b"  # the only one that has to wait
    assert soon.ranked[-1].finish == NOW + timedelta(hours=15)


def test_data_that_must_stay_is_never_placed_outside_its_region() -> None:
    for r in (req(data_may_leave=False), req(data_grade=DataGrade.IMPORTANT), req(data_grade=DataGrade.CORE)):
        p = place(r, catalog(), now=NOW)
        assert [o.pool.id for o in p.ranked] == ["sh-910b"]
        assert "may not leave shanghai" in p.rejected["nx-910b"]
        assert "stays in shanghai" in p.explain()
        with pytest.raises(NoFeasiblePool):
            failover(p, "sh-910b")


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([1, 2, 4, 8, 16, 64, 128]),
    region=st.sampled_from(["shanghai", "ningxia", "gansu"]),
    grade=st.sampled_from(list(DataGrade)),
    may_leave=st.booleans(),
    pref=st.sampled_from(list(Preference)),
    work=st.sampled_from(list(Workload)),
    size=st.floats(0, 1e5),
)
def test_residency_holds_for_any_request(n, region, grade, may_leave, pref, work, size) -> None:
    r = req(accelerators=n, data_region=region, data_grade=grade, data_may_leave=may_leave, preference=pref,
            workload=work, data_size_gb=size)
    try:
        p = place(r, catalog(), now=NOW)
    except NoFeasiblePool:
        return
    except RequestError as e:  # more than the largest pool able to take it: refused up front, naming it
        able = [pool for pool in catalog().pools.values() if pool.accelerator in r.accelerator_models
                and (not r.data_must_stay or catalog().site_of(pool).region == region)]
        assert e.field == "accelerators" and all(pool.count < n for pool in able), e
        return
    if r.data_must_stay:
        assert all(o.site.region == region for o in p.ranked)
    assert all(o.pool.count >= n for o in p.ranked)
    key = [o.cost.effective for o in p.ranked]
    if pref is Preference.CHEAPEST:
        assert key == sorted(key)


def test_failover_moves_to_the_next_feasible_pool_until_none() -> None:
    p = place(req(), catalog(), now=NOW)
    order = [o.pool.id for o in p.ranked]
    p2 = failover(p, order[0])
    assert p2.choice.pool.id == order[1] and order[0] in p2.failed
    assert "Skipped after failures" in p2.explain()
    p3 = failover(p2, order[1])
    assert p3.choice.pool.id == order[2]
    with pytest.raises(NoFeasiblePool, match="every feasible pool has failed"):
        failover(p3, order[2])
    # a fresh placement that already knows a failure skips it too
    assert place(req(), catalog(), now=NOW, failed={order[0]}).choice.pool.id == order[1]


def test_budget_cap_and_deadline_reject_pools_with_reasons() -> None:
    with pytest.raises(NoFeasiblePool) as e:
        place(req(budget_cap=Decimal("500")), catalog(), now=NOW)
    assert "over the budget cap" in e.value.reasons["nx-910b"]
    p = place(req(budget_cap=Decimal("750")), catalog(), now=NOW)
    assert [o.pool.id for o in p.ranked] == ["nx-910b", "gs-a800"]  # sh: ¥800 > ¥750
    assert "¥800.00, over the budget cap ¥750.00" in p.rejected["sh-910b"]
    late = place(req(deadline=NOW + timedelta(hours=12)), catalog(), now=NOW,
                 availability={"nx-910b": Availability(free=0, wait_hours=3)})
    assert "after the deadline" in late.rejected["nx-910b"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"accelerators": -4}, "accelerators"),
        ({"accelerators": 0}, "accelerators"),
        ({"accelerators": 100_000}, "accelerators"),
        ({"accelerator_models": ("H100",)}, "accelerator_models"),
        ({"accelerator_models": ()}, "accelerator_models"),
        ({"estimated_hours": -1}, "estimated_hours"),
        ({"estimated_hours": float("nan")}, "estimated_hours"),
        ({"estimated_hours": 10_000}, "estimated_hours"),
        ({"deadline": NOW - timedelta(hours=1)}, "deadline"),
        ({"deadline": NOW + timedelta(hours=2)}, "deadline"),
        ({"nodes": 3}, "nodes"),
        ({"data_size_gb": -5}, "data_size_gb"),
        ({"data_region": "hainan", "data_may_leave": False}, "data_region"),
        ({"budget_cap": Decimal("-1")}, "budget_cap"),
    ],
)
def test_bad_requests_are_refused_with_field_and_fix(changes: dict, field: str) -> None:
    with pytest.raises(RequestError) as e:
        validate_request(req(**changes), catalog(), NOW)
    assert e.value.field == field
    assert isinstance(e.value, ValueError)
    assert e.value.fix and "fix:" in str(e.value)


def test_unknown_accelerator_lists_the_known_ones_and_spelling_is_normalised() -> None:
    with pytest.raises(RequestError, match="choose from A800, Ascend 910B"):
        validate_request(req(accelerator_models=("H100",)), catalog(), NOW)
    ok = validate_request(req(accelerator_models=("ascend 910b", "Ascend-910B")), catalog(), NOW)
    assert ok.accelerator_models == ("Ascend 910B",)


def test_rejections_and_the_explanation_carry_codes_and_parameters() -> None:
    p = place(req(data_may_leave=False, budget_cap=Decimal("900")), catalog(), now=NOW)
    assert p.reason("nx-910b").code == "placement.data_residency"
    assert dict(p.reason("nx-910b").params) == {"data_region": "shanghai", "site_region": "ningxia"}
    assert p.reason("nx-910b").note == p.rejected["nx-910b"]
    assert p.reason("sh-910b") is None
    with pytest.raises(NoFeasiblePool) as e:
        place(req(budget_cap=Decimal("500")), catalog(), now=NOW)
    over = e.value.codes["nx-910b"]
    assert (over.code, over.params) == ("placement.over_budget", {"cost": "640.00", "budget_cap": "500.00"})
    assert place(req(accelerator_models=("A800",)), catalog(), now=NOW).reason("sh-910b").params == {
        "has": "Ascend 910B", "wanted": ["A800"]}

    p = place(req(data_size_gb=100), catalog(), now=NOW)
    codes = [r.code for r in p.explanation()]
    assert codes == ["explain.chosen", "explain.why", "explain.cost", "explain.start", "explain.next", "explain.next"]
    chosen, why, cost, start, nxt = p.explanation()[:5]
    assert chosen.params["pool"] == "nx-910b" and chosen.params["hub"] == "ningxia"
    assert (why.params["feasible"], why.params["preference"]) == (3, "cheapest")
    assert (cost.params["list_price"], cost.params["pays"], cost.params["effective"]) == ("640.00", "740.00", "741.00")
    assert (nxt.params["pool"], nxt.params["delta"], nxt.params["part"]) == ("sh-910b", "61.00", "compute_after_subsidy")
    assert p.explain() == "\n".join(r.note for r in p.explanation())  # the English text is the notes

    p2 = failover(p, "nx-910b", "Slurm refused the job: invalid partition")
    assert p2.reason("nx-910b").code == "placement.backend_failed"
    assert p2.reason("nx-910b").params == {"reason": "Slurm refused the job: invalid partition"}
    assert p2.explanation()[-1].code == "explain.failed" and p2.explanation()[-1].params == {"pools": ["nx-910b"]}
    p3 = place(req(), catalog(), now=NOW, failed={"nx-910b": "refused"})
    assert p3.choice.pool.id != "nx-910b" and "refused" in p3.rejected["nx-910b"]


def test_more_than_the_largest_pool_of_the_accepted_models_is_refused_naming_it() -> None:
    with pytest.raises(RequestError) as e:  # the 512-accelerator pool is Ascend; A800 pools have 64
        validate_request(req(accelerators=100, accelerator_models=("A800",)), catalog(), NOW)
    assert e.value.field == "accelerators" and "gs-a800 with 64" in str(e.value)
    with pytest.raises(RequestError) as e:  # the data may not leave Shanghai, whose pool has 64
        validate_request(req(accelerators=100, data_may_leave=False), catalog(), NOW)
    assert "in shanghai" in str(e.value) and "sh-910b with 64" in str(e.value)
    assert validate_request(req(accelerators=100), catalog(), NOW).accelerators == 100  # nx-910b has 512
