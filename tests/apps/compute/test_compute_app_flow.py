"""The compute platform end to end through the actions, with real jobs on the local backend: providers'
pools, voucher application and approval, quote, submit, run, usage, bill with the subsidy, ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_compute_app_support import (
    build_compute_world,
    job_data,
    make_voucher,
    submit,
    wait_until,
    wait_until_done,
)

from gaodi.apps.compute import actions, ledger
from gaodi.apps.compute.forms import JobForm
from gaodi.apps.compute.models import JobEvent, LedgerEntry, Pool, Redemption, Voucher
from gaodi.apps.core import audit
from gaodi.apps.core.models import WorkflowHistory


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


def test_voucher_quote_submit_run_and_bill_with_subsidy(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "1000")
    assert voucher.balance == Decimal("1000.00") and voucher.organization == w.ent_a
    transitions = list(WorkflowHistory.objects.filter(object_id=voucher.application_id)
                       .values_list("transition", flat=True))
    assert transitions == ["submit", "approve"]
    assert ledger.program_unallocated(w.program) == Decimal("9000.00")

    # Quote: both pools are feasible; the cheaper (after subsidy) is recommended, with the voucher applied.
    form = JobForm(data=job_data(vouchers=[str(voucher.pk)]), organization=w.ent_a)
    result = actions.quote_job(w.alice, w.ent_a, form)
    assert [o["pool"]["code"] for o in result.options] == ["sh-local", "nx-local"]
    best = result.choice
    assert best["list_price"] == "60.00"  # 1 accelerator x 0.5 h x 120
    assert best["lines"][0]["voucher"] == voucher.number and best["lines"][0]["amount"] == "18.00"
    assert best["pays"] == "42.00"
    assert "sh-local" in result.explanation[0] and any("次优" in line and "nx-local" in line
                                                       for line in result.explanation)

    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    assert job.state == "queued" and job.pool == w.pool_a and job.quote["pays"] == "42.00"
    assert job.placement["alternatives"][0]["pool"]["code"] == "nx-local"

    job = actions.dispatch_job(job.pk)
    assert job.state == "pending" and job.backend_job_id
    job = wait_until_done(job)
    assert job.state == "completed", (job.reason, job.log_tail)
    assert job.exit_code == 0 and 0.15 < job.elapsed_s < 10
    assert "hello from gaodi" in job.log_tail and "hello from gaodi" in actions.job_logs(job)
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at

    # The bill: one started minute on one accelerator at 120/h = 2.00; the voucher pays 30%.
    bill = Redemption.objects.get(job=job)
    assert (bill.billed_seconds, bill.list_price, bill.subsidy, bill.payable) == (
        60, Decimal("2.00"), Decimal("0.60"), Decimal("1.40"))
    line = bill.lines.get()
    assert line.voucher == voucher and line.amount == Decimal("0.60")
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("999.40")
    assert ledger.balance(ledger.voucher_account(voucher)) == voucher.balance
    assert ledger.balance(ledger.provider_receivable(w.prov_a)) == Decimal("2.00")
    assert ledger.balance(ledger.enterprise_payable(w.ent_a)) == Decimal("-1.40")  # credit-normal: owes 1.40
    assert ledger.unbalanced_transactions() == []
    states = list(JobEvent.objects.filter(job=job).values_list("state", flat=True))
    assert states[0] == "queued" and "completed" in states
    assert audit.verify().ok
    # Polling again changes nothing and bills nothing twice.
    assert actions.refresh_job(job.pk).state == "completed"
    assert Redemption.objects.filter(job=job).count() == 1


def test_failed_job_is_billed_and_cancel_stops_a_running_job(compute_world):
    w = compute_world
    failing = submit(w.alice, w.ent_a, script='echo "working"; echo "boom" >&2; exit 3\n')
    actions.dispatch_job(failing.pk)
    failing = wait_until_done(failing)
    assert failing.state == "failed" and failing.exit_code == 3 and "boom" in failing.log_tail
    assert Redemption.objects.filter(job=failing).count() == 1  # it used the accelerator, so it is billed

    long = submit(w.alice, w.ent_a, script="sleep 30\n", accelerators="4")
    actions.dispatch_job(long.pk)
    long = wait_until(long, ("running",))
    assert long.state == "running"
    w.pool_a.refresh_from_db()
    assert w.pool_a.in_use == 4 and w.pool_a.free == 4  # live capacity: running jobs hold their accelerators
    long = actions.cancel_job(w.alice, long)
    long = wait_until_done(long)
    assert long.state == "cancelled" and long.elapsed_s < 25
    assert Pool.objects.get(pk=w.pool_a.pk).free == 8


def test_queued_job_cancelled_before_it_reaches_the_backend(compute_world):
    w = compute_world
    job = submit(w.alice, w.ent_a)
    job = actions.cancel_job(w.alice, job)
    assert job.state == "cancelled" and not job.backend_job_id
    assert actions.dispatch_job(job.pk).state == "cancelled"  # the task arriving later does nothing


def test_other_firm_cannot_cancel_or_see_a_job(compute_world):
    from django.core.exceptions import PermissionDenied

    w = compute_world
    job = submit(w.alice, w.ent_a)
    with pytest.raises(PermissionDenied):
        actions.cancel_job(w.bob, job)
    assert actions.refresh_job(job.pk).state in ("queued", "pending", "running", "completed")


def test_voucher_balance_equals_its_ledger_account_after_many_bills(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "1.00")
    jobs = [submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)], accelerators="2") for _ in range(3)]
    for job in jobs:
        actions.dispatch_job(job.pk)
    for job in jobs:
        assert wait_until_done(job).state == "completed"
    voucher.refresh_from_db()
    bills = Redemption.objects.filter(job__in=jobs)
    # Each bill is 4.00 (2 accelerators x 1 min x 120/h) with 1.20 of subsidy, but the voucher only had 1.00.
    assert sum(b.subsidy for b in bills) == Decimal("1.00")
    assert voucher.balance == Decimal("0.00") == ledger.balance(ledger.voucher_account(voucher))
    assert all(b.list_price == b.subsidy + b.payable for b in bills)
    assert Voucher.objects.get(pk=voucher.pk).balance >= 0
    assert LedgerEntry.objects.count() > 0 and ledger.unbalanced_transactions() == []
