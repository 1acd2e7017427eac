"""Shared set-up for the compute app tests (no tests here): providers with pools, a programme, vouchers made
through the workflow, job forms, and waiting for real local jobs. Import what you need:

    from test_compute_app_support import build_compute_world, job_data, wait_until_done

    @pytest.fixture
    def compute_world(world, settings, tmp_path):
        return build_compute_world(world, settings, tmp_path)
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from gaodi.apps.compute import actions
from gaodi.apps.compute.forms import ApplicationForm, JobForm, PoolForm, ProgramForm, SiteForm
from gaodi.apps.compute.models import Job, Voucher
from gaodi.apps.core.models import Membership, Organization, User

SCRIPT_OK = 'echo "hello from gaodi"; sleep 0.2; echo done\n'


def build_compute_world(world, settings, tmp_path):
    """The core `world` plus two compute providers with a site and a local pool each, and the economy
    department's city programme (30%, budget 10,000). Jobs run under tmp_path."""
    settings.GAODI_COMPUTE_JOB_ROOT = str(tmp_path / "jobs")
    settings.GAODI_COMPUTE_RETRY_BASE_S = 1
    w = world
    w.prov_a = Organization.objects.create(code="P01", name="东方云算", kind="compute_provider")
    w.prov_b = Organization.objects.create(code="P02", name="西部绿算", kind="compute_provider")
    w.petra = _user("petra", w.prov_a, "member")
    w.quinn = _user("quinn", w.prov_b, "member")
    w.site_a = make_site(w.petra, w.prov_a, "sh-songjiang", hub="yangtze_river_delta", region="shanghai")
    w.site_b = make_site(w.quinn, w.prov_b, "nx-zhongwei", hub="ningxia", region="ningxia", pue="1.12",
                         green_share="0.55", latency_ms="38")
    # 120 yuan per accelerator-hour: one billed minute on one accelerator is exactly 2.00 yuan.
    w.pool_a = make_pool(w.petra, w.site_a, "sh-local", "MLU370", count=8, price="120.00")
    w.pool_b = make_pool(w.quinn, w.site_b, "nx-local", "MLU370", count=16, price="180.00")
    w.program = make_program(w.ron, w.economy)
    return w


def _user(username, org, role):
    user = User.objects.create_user(username=username, password="correct-horse-battery")
    Membership.objects.create(user=user, organization=org, role=role)
    return user


def make_site(user, provider, code, hub="yangtze_river_delta", region="shanghai", pue="1.30", green_share="0.25",
              latency_ms="3"):
    form = SiteForm(data={"code": code, "name": f"{code} 数据中心", "hub": hub, "region": region, "pue": pue,
                          "green_share": green_share, "latency_ms": latency_ms})
    return actions.create_site(user, provider, form)


def make_pool(user, site, code, accelerator="MLU370", count=8, price="120.00", backend="local"):
    form = PoolForm(data={"site": str(site.pk), "code": code, "accelerator": accelerator, "count": str(count),
                          "per_node": "8", "price_per_hour": price, "backend": backend, "active": "on"},
                    provider_ids={site.provider_id})
    return actions.create_pool(user, form)


def program_data(**overrides) -> dict:
    today = timezone.localdate()
    data = {"code": "sh-test-general", "name": "上海市算力券（测试）", "level": "city", "district": "",
            "rate": "0.30", "budget": "10000", "valid_from": (today - timedelta(days=10)).isoformat(),
            "valid_to": (today + timedelta(days=90)).isoformat(), "description": ""}
    data.update(overrides)
    return data


def make_program(user, department, **overrides):
    return actions.create_program(user, department, ProgramForm(data=program_data(**overrides)))


def make_voucher(applicant, organization, reviewer, program, amount="1000") -> Voucher:
    form = ApplicationForm(data={"program": str(program.pk), "amount_requested": str(amount),
                                 "purpose": "训练行业大模型，预计使用 200 卡时。"})
    application = actions.create_application(applicant, organization, form)
    return actions.approve_application(reviewer, application)


def job_data(**overrides) -> dict:
    data = {"name": "测试作业", "script": SCRIPT_OK, "accelerators": "1", "accelerator_models": ["MLU370"],
            "estimated_hours": "0.5", "data_region": "shanghai", "data_may_leave": "on", "data_grade": "general",
            "data_size_gb": "0", "workload": "training", "preference": "cheapest", "pool": "", "vouchers": []}
    data.update(overrides)
    return data


def submit(user, organization, **overrides) -> Job:
    form = JobForm(data=job_data(**overrides), organization=organization)
    return actions.submit_job(user, organization, form)


def wait_until(job: Job, states, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = actions.refresh_job(job.pk)
        if job.state in states or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def wait_until_done(job: Job, timeout: float = 20.0) -> Job:
    return wait_until(job, ("completed", "failed", "cancelled"), timeout)


def expired(voucher: Voucher, on: date | None = None) -> Voucher:
    """Make a voucher expired (test set-up: time passes)."""
    on = on or timezone.localdate()
    Voucher.objects.filter(pk=voucher.pk).update(valid_from=on - timedelta(days=30), expires_on=on - timedelta(days=1))
    voucher.refresh_from_db()
    return voucher


MONEY = Decimal("0.01")
