"""The compute demo loader: everything made through the actions, jobs really run and billed, books balanced."""

from __future__ import annotations

import random

from gaodi.apps.compute import ledger
from gaodi.apps.compute.demo import load_compute_demo
from gaodi.apps.compute.models import Job, Pool, Redemption, Site, SubsidyProgram, Voucher
from gaodi.apps.core import audit


def test_load_compute_demo(world, settings, tmp_path):
    settings.GAODI_COMPUTE_JOB_ROOT = str(tmp_path / "jobs")
    summary = load_compute_demo(random.Random(7))
    assert summary["providers"] == 4 and Site.objects.count() == summary["sites"] >= 8
    assert Pool.objects.filter(backend="local").exists() and summary["pools"] == Pool.objects.count()
    hubs = set(Site.objects.values_list("hub", flat=True))
    assert len(hubs) == 8  # the shipped catalog has a site in every national hub
    assert SubsidyProgram.objects.count() >= 2 and Voucher.objects.count() == summary["vouchers"] >= 2
    finished = Job.objects.filter(state__in=["completed", "failed"])
    assert finished.count() == summary["jobs_finished"] >= 3
    assert Job.objects.filter(state="failed", exit_code=3).exists()
    assert Job.objects.filter(pk=summary["queued_job"], state="queued").exists()
    assert Redemption.objects.count() == summary["bills"] == finished.count()
    assert Redemption.objects.filter(subsidy__gt=0).exists()
    assert ledger.unbalanced_transactions() == []
    for voucher in Voucher.objects.all():
        assert voucher.balance == ledger.balance(ledger.voucher_account(voucher))
    assert audit.verify().ok
