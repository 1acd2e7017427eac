"""Simulator invariants on random traces, the workload rules, and trace parsing errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaodi.engines.compute import (
    POLICIES,
    TraceError,
    illustrative_billing,
    jain,
    load_trace,
    make_policy,
    make_workload,
    parse_trace,
    simulate,
    size_capacity,
)
from gaodi.engines.compute.trace import trace_from_rows

SHIPPED = Path(__file__).resolve().parents[3] / "src" / "gaodi" / "apps" / "compute" / "data" / "traces"


def max_concurrent(intervals, gpus: np.ndarray) -> int:
    """The most accelerators held at any instant, from every run's (job, start, end)."""
    events = sorted([(e, -int(gpus[j])) for j, _, e in intervals]
                    + [(s, int(gpus[j])) for j, s, _ in intervals])  # ends before starts at a tie
    used = peak = 0
    for _, delta in events:
        used += delta
        peak = max(peak, used)
    return peak


jobs_strategy = st.lists(
    st.tuples(st.integers(0, 500), st.integers(0, 300), st.sampled_from([1, 1, 1, 2, 4, 8])),
    min_size=1, max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(jobs=jobs_strategy, extra=st.integers(0, 8), seed=st.integers(0, 5))
def test_invariants_for_every_policy(jobs, extra, seed) -> None:
    trace = trace_from_rows([(f"j{i}", float(s), float(d), g) for i, (s, d, g) in enumerate(sorted(jobs))])
    w = make_workload(trace, seed=seed, tenants=5)
    cap = int(trace.gpus.max()) + extra
    for name in POLICIES:
        r = simulate(w, make_policy(name), cap, record=True)
        assert not np.isnan(r.end).any(), "every job completes"
        assert (r.start >= trace.submit).all()
        once = r.runs.preemptions == 0
        assert np.allclose((r.end - r.start)[once], trace.duration[once])  # never preempted: one run, true duration
        assert np.allclose(r.runs.held, trace.duration + r.runs.lost + r.runs.restart)
        assert (r.end - trace.submit >= r.runs.held - 1e-9).all()  # JCT >= what it held >= duration
        assert max_concurrent(r.intervals, trace.gpus) <= cap  # no over-allocation at any instant
        if name != "platform":
            assert once.all()  # only the platform preempts
        assert all(0 <= used <= cap for _, used in r.timeline)
        m = r.metrics
        assert 0 < m.jain_service <= 1 + 1e-12 and 0 <= m.utilization <= 1 + 1e-9
        assert m.avg_jct >= float(trace.duration.mean()) - 1e-9
        if name == "fifo":  # nobody overtakes
            order = np.lexsort((np.arange(len(trace)), trace.submit))
            assert (np.diff(r.start[order]) >= 0).all()
        if name == "platform":
            assert m.sme_floor_violations == 0


def test_replay_is_deterministic_and_reports_every_metric() -> None:
    trace = load_trace(SHIPPED / "elasticflow" / "cluster10.csv")
    w = make_workload(trace, seed=7)
    a = simulate(w, make_policy("platform"), billing=illustrative_billing(w)).metrics
    b = simulate(make_workload(trace, seed=7), make_policy("platform"),
                 billing=illustrative_billing(w)).metrics
    assert a == b
    assert a.capacity == size_capacity(trace) == 16  # the largest job (16) is above 90% sizing (6)
    assert a.jobs == 260 and a.p95_jct >= a.avg_jct > 0 and a.p95_wait >= a.avg_wait >= 0
    assert 0 < a.sme_gpu_hour_share < 1 and a.sme_wait_share is not None
    assert a.subsidy_spent is not None and a.subsidy_spent > 0
    assert set(a.as_dict()) >= {"avg_jct", "p95_jct", "avg_wait", "p95_wait", "utilization", "sme_gpu_hour_share",
                                "sme_wait_share", "jain_service", "subsidy_spent", "sme_floor_attainment"}


def test_capacity_sizing_rule() -> None:
    # 4 jobs × 2 accelerators × 900 s over a 1000 s window = offered load 7.2 -> 8 at 90%
    trace = trace_from_rows([("a", 0, 900, 2), ("b", 0, 900, 2), ("c", 500, 900, 2), ("d", 1000, 900, 2)])
    assert size_capacity(trace) == 8
    assert size_capacity(trace, 0.5) == 15
    big = trace_from_rows([("a", 0, 10, 64), ("b", 1000, 10, 1)])
    assert size_capacity(big) == 64  # never below the largest job
    with pytest.raises(ValueError, match="below the largest job"):
        simulate(make_workload(big), make_policy("fifo"), 8)


def test_workload_rules_tenants_smes_and_noisy_estimates() -> None:
    trace = load_trace(SHIPPED / "elasticflow" / "cluster02.csv")
    w = make_workload(trace, seed=0)
    assert w.n_tenants == 50 and int(w.tenant_sme.sum()) == 30
    counts = np.bincount(w.tenant, minlength=50)
    assert counts[0] == counts.max() and counts[0] > 5 * counts[25]  # Zipf: rank 1 dominates
    assert counts[0] / len(trace) == pytest.approx(1 / sum(1 / r for r in range(1, 51)), abs=0.03)
    ratio = w.estimate / np.maximum(trace.duration, 1)
    assert not np.allclose(w.estimate, trace.duration)
    assert np.median(ratio) == pytest.approx(1.5, rel=0.05)
    assert 0.15 < (w.estimate < trace.duration).mean() < 0.4  # some users underestimate
    again = make_workload(trace, seed=0)
    assert np.array_equal(again.tenant, w.tenant) and np.array_equal(again.estimate, w.estimate)
    other = make_workload(trace, seed=1)
    assert not np.array_equal(other.tenant, w.tenant)


def test_policies_never_see_the_true_duration() -> None:
    trace = trace_from_rows([("a", 0, 100, 1)])
    policy = make_policy("platform")
    simulate(make_workload(trace), policy, 1)
    assert not hasattr(policy.state, "duration")


def test_jain_index() -> None:
    assert jain([1, 1, 1]) == 1.0
    assert jain([1, 0, 0, 0]) == pytest.approx(0.25)
    assert jain([]) == 1.0


def test_shipped_traces_match_the_issue_and_carry_their_licence() -> None:
    folder = SHIPPED / "elasticflow"
    assert "MIT License" in (folder / "LICENSE").read_text(encoding="utf-8")
    assert sum(len(load_trace(f)) for f in sorted(folder.glob("cluster*.csv"))) == 69_351


HEADER = "job_id,submission_time,duration,num_gpu\n"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("", "header", "empty"),
        ("job_id,submission_time,duration\n1,0,5\n", "header", "missing column(s) num_gpu"),
        (HEADER, "rows", "no jobs"),
        (HEADER + "a,0,-5,1\n", "duration", "negative"),
        (HEADER + "a,0,abc,1\n", "duration", "not a number"),
        (HEADER + "a,0,5,1.5\n", "num_gpu", "whole number"),
        (HEADER + "a,0,5,0\n", "num_gpu", "whole number"),
        (HEADER + "a,-1,5,1\n", "submission_time", "negative"),
        (HEADER + "a,0,inf,1\n", "duration", "not finite"),
        (HEADER + "a,0,5\n", "row", "fields"),
        (HEADER + ",0,5,1\n", "job_id", "empty"),
    ],
)
def test_bad_traces_are_refused_naming_line_and_column(text: str, field: str, words: str) -> None:
    with pytest.raises(TraceError) as e:
        parse_trace(text, where="t.csv")
    assert e.value.field == field and words in str(e.value)
    if field not in ("header", "rows"):
        assert "line 2" in e.value.where


def test_any_column_order_gbk_text_and_unsorted_rows(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_bytes("num_gpu,duration,job_id,submission_time\n2,10,作业乙,50\n1,5,作业甲,0\n".encode("gb18030"))
    t = load_trace(f)
    assert t.job_ids == ("作业甲", "作业乙") and t.gpus.tolist() == [1, 2] and t.submit.tolist() == [0, 50]
    with pytest.raises(TraceError, match="no such file"):
        load_trace(tmp_path / "missing.csv")


def test_billing_uses_the_vouchers_with_their_stacking_rules() -> None:
    trace = trace_from_rows([(f"j{i}", i * 10.0, 3600.0, 8) for i in range(20)])
    w = make_workload(trace, seed=3, tenants=4)
    billing = illustrative_billing(w, Decimal("10"))
    r = simulate(w, make_policy("slurm"), billing=billing).metrics
    assert r.subsidy_spent == billing.ledger.total
    expected = Decimal(0)
    for t in w.tenant.tolist():  # every job lists at 8 accelerator-hours × ¥10 = ¥80
        sme, llm, xuhui = bool(w.tenant_sme[t]), t % 4 == 0, t % 3 == 0
        city = min(Decimal("0.30") * sme + Decimal("0.20") * llm, Decimal("0.40"))
        expected += Decimal(80) * (city + Decimal("0.10") * (sme and xuhui))
    assert r.subsidy_spent == expected > 0
