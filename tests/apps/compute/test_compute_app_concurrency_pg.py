"""Concurrency on PostgreSQL: row locks keep a voucher from being overspent and a redemption from being
written twice when many workers bill at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from test_compute_app_support import build_compute_world, make_voucher, submit

from gaodi.apps.compute import actions, ledger
from gaodi.apps.compute.models import Redemption, RedemptionLine, Voucher
from gaodi.apps.core import audit
from gaodi.engines.compute.backends import Usage


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 16


def _usage(start: datetime) -> Usage:
    return Usage(start=start, end=start + timedelta(hours=1), elapsed_s=3600, accelerators=1, cpus=1,
                 accelerator_seconds=3600, cpu_seconds=3600, source="test")


def _run_threads(target, args_list):
    errors: list[BaseException] = []
    results: list = []
    barrier = threading.Barrier(len(args_list))

    def run(*args):
        try:
            barrier.wait()
            results.append(target(*args))
        except BaseException as exc:  # noqa: BLE001  reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def _voucher(w, amount: str) -> Voucher:
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, amount)
    Voucher.objects.filter(pk=voucher.pk).update(valid_from=timezone.localdate() - timedelta(days=7))
    return Voucher.objects.get(pk=voucher.pk)


def test_sixteen_threads_redeeming_one_voucher_never_overspend_it(compute_world):
    w = compute_world
    voucher = _voucher(w, "100")
    jobs = [submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)]) for _ in range(THREADS)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    # Each bill is 120.00 at list price and asks 36.00 of subsidy: 16 x 36 = 576 against a balance of 100.
    bills = _run_threads(lambda job: actions.bill_usage(job, _usage(start)), [(j,) for j in jobs])
    assert len(bills) == THREADS == Redemption.objects.count()
    voucher.refresh_from_db()
    charged = RedemptionLine.objects.filter(voucher=voucher).aggregate(s=Sum("amount"))["s"]
    assert charged == Decimal("100.00") and voucher.balance == Decimal("0.00")
    assert ledger.balance(ledger.voucher_account(voucher)) == voucher.balance
    subsidised = sorted(b.subsidy for b in Redemption.objects.all())
    assert subsidised[-2:] == [Decimal("36.00"), Decimal("36.00")] and subsidised[0] == Decimal("0.00")
    assert all(b.list_price == b.subsidy + b.payable == Decimal("120.00") for b in Redemption.objects.all())
    assert ledger.unbalanced_transactions() == []
    assert audit.verify().ok


def test_the_same_redemption_from_sixteen_threads_is_written_once(compute_world):
    w = compute_world
    voucher = _voucher(w, "1000")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)])
    usage = _usage(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    bills = _run_threads(lambda: actions.bill_usage(job, usage), [() for _ in range(THREADS)])
    assert len({b.pk for b in bills}) == 1 and Redemption.objects.count() == 1
    voucher.refresh_from_db()
    assert voucher.balance == Decimal("964.00") == ledger.balance(ledger.voucher_account(voucher))
    assert ledger.unbalanced_transactions() == []


def test_parallel_approvals_never_issue_more_than_the_budget(compute_world):
    from gaodi.apps.compute.forms import ApplicationForm
    from gaodi.apps.core.models import Membership, Organization, User

    w = compute_world  # the programme's budget is 10,000
    applications = []
    for i in range(8):
        org = Organization.objects.create(code=f"E1{i:03d}", name=f"并发企业{i}", kind="enterprise",
                                          industry="software_it", employees=50, annual_revenue=1000)
        user = User.objects.create_user(username=f"firm{i}", password="correct-horse-battery")
        Membership.objects.create(user=user, organization=org, role="member")
        form = ApplicationForm(data={"program": str(w.program.pk), "amount_requested": "2000",
                                     "purpose": "训练行业大模型，预计 100 卡时。"})
        applications.append(actions.create_application(user, org, form))
    outcomes: list[str] = []

    def approve(application):
        from django.core.exceptions import ValidationError

        try:
            actions.approve_application(w.ron, application)
            outcomes.append("approved")
        except ValidationError:
            outcomes.append("refused")

    _run_threads(approve, [(a,) for a in applications])
    assert sorted(outcomes) == ["approved"] * 5 + ["refused"] * 3
    assert Voucher.objects.aggregate(s=Sum("amount"))["s"] == Decimal("10000.00")
    assert ledger.program_unallocated(w.program) == Decimal("0.00")
    assert ledger.unbalanced_transactions() == []
    assert len(set(Voucher.objects.values_list("number", flat=True))) == 5


def test_sixteen_dispatchers_of_one_queued_job_submit_it_once(compute_world, monkeypatch):
    from gaodi.apps.compute import runners
    from gaodi.apps.compute.models import Job

    w = compute_world
    job = submit(w.alice, w.ent_a, script="sleep 1\n")
    real = runners.backend_for_pool(w.pool_a)
    submitted: list[str] = []

    class Counting:
        kind = "local"

        def submit(self, spec):
            job_id = real.submit(spec)
            submitted.append(job_id)
            return job_id

        def __getattr__(self, name):
            return getattr(real, name)

    counting = Counting()
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: counting)
    _run_threads(lambda: actions.dispatch_job(job.pk), [() for _ in range(THREADS)])
    job = Job.objects.get(pk=job.pk)
    assert len(submitted) == 1 and job.backend_job_id == submitted[0] and job.attempts == 1
    assert real.find(job.backend_name) == submitted  # one job on the backend under the job's name
    assert [a["outcome"] for a in job.pool_attempts] == ["submitted"]
