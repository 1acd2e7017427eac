"""Demo data of the public compute platform, for `gaodi demo`.

Call `load_compute_demo(rng)` after the core demo (it finds the economy department, district governments
and enterprise accounts that the core demo made, and creates what is missing). It creates:

- the compute providers, sites and pools of the shipped catalog (`data/catalog.toml`), each provider with a
  member account, through the provider actions;
- two city subsidy programmes (a general voucher, an SME voucher) and a district top-up, through the
  department's actions (the budget is funded in the ledger);
- voucher applications of several enterprises through the workflow: most approved (vouchers issued),
  one waiting for review, one returned;
- batch jobs submitted through the job actions on the local pool and really run on the local backend
  (tiny scripts), so their usage is metered and billed with the vouchers; one job is left queued for the
  worker.

Deterministic for a given rng state (names, amounts, outcomes); timestamps follow the clock except that, for
demo realism only, finished jobs, their bills and applications are spread over the last working days (as the
core demo back-dates filings). Ledger entries, workflow history and audit entries keep their true times.
"""

from __future__ import annotations

import random
import re
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.utils import timezone

from gaodi.apps.core.choices import DepartmentDuty, OrgKind, Role
from gaodi.apps.core.demo import DEMO_PASSWORD
from gaodi.apps.core.models import Membership, Organization, User
from gaodi.engines import workdays

from . import actions, bridge
from .choices import JobState, Level
from .forms import ApplicationForm, JobForm, PoolForm, ProgramForm, SiteForm
from .models import Job, Pool, Redemption, Site, SubsidyProgram, VoucherApplication

JOB_WAIT_S = 30.0

SCRIPTS = (
    ("中文文本分类模型微调", 'echo "加载数据集"; sleep 0.3; echo "epoch 1/2 loss=0.612"; echo "epoch 2/2 loss=0.418"; '
                       'echo "验证集准确率 0.913"\n'),
    ("工业缺陷检测模型训练", 'echo "读取图像 12000 张"; sleep 0.4; echo "mAP@0.5=0.874"; echo "完成"\n'),
    ("语音识别模型评测", 'echo "评测集 2000 条"; sleep 0.2; echo "CER=5.8%"\n'),
    ("推荐模型离线训练", 'echo "样本 3.2 亿条"; sleep 0.3; echo "AUC=0.781"\n'),
    ("大模型推理压测", 'echo "并发 64"; sleep 0.2; echo "P99 延迟 820ms"\n'),
)
FAILING_SCRIPT = ("数据预处理（路径错误）", 'echo "读取 /data/missing.parquet"; echo "文件不存在" >&2; exit 3\n')
PURPOSES = (
    "用于行业大模型的指令微调和评测，预计使用约 2000 卡时，分三个月完成。",
    "训练工业质检视觉模型，预计每月 600 卡时，用于产线缺陷检测的迭代。",
    "语音识别模型的训练与回归评测，预计 800 卡时，服务本地政务热线场景。",
    "推荐算法的离线训练和参数搜索，预计 1500 卡时，降低自建机房成本。",
    "医疗影像辅助诊断模型训练，预计 1000 卡时，数据不出本市。",
)


def _split_name(name: str) -> tuple[str, str]:
    """'东方云算 East Cloud Compute (fictional)' -> ('东方云算', 'East Cloud Compute (fictional)')."""
    m = re.match(r"^(.*?[\u4e00-\u9fff）)]+)\s+([A-Za-z].*)$", name)
    return (m.group(1), m.group(2)) if m else (name, "")


def _user(username: str, org: Organization, role: str, password: str) -> User:
    user, _created = User.objects.get_or_create(
        username=username, defaults={"password": password, "display_name": username,
                                     "email": f"{username}@demo.gaodi.invalid"})
    Membership.objects.get_or_create(user=user, organization=org, role=role)
    return user


def _economy(password: str) -> tuple[Organization, User]:
    department = Organization.objects.filter(kind=OrgKind.DEPARTMENT, duty=DepartmentDuty.ECONOMY).order_by("pk").first()
    if department is None:
        department = Organization.objects.create(code="D01", name="上海市经济和信息化委员会", kind=OrgKind.DEPARTMENT,
                                                 duty=DepartmentDuty.ECONOMY)
    reviewer = User.objects.filter(memberships__organization=department, memberships__role=Role.REVIEWER,
                                   is_active=True).order_by("pk").first()
    return department, reviewer or _user("econ-reviewer", department, Role.REVIEWER, password)


def _providers(rng: random.Random, password: str) -> tuple[dict[str, Organization], dict[str, User]]:
    catalog = bridge.shipped_catalog()
    orgs: dict[str, Organization] = {}
    users: dict[str, User] = {}
    if catalog is None:
        return orgs, users
    for i, provider in enumerate(catalog.providers.values(), start=1):
        name, name_en = _split_name(provider.name)
        org, _created = Organization.objects.get_or_create(
            code=f"P{i:02d}", defaults={"name": name, "name_en": name_en, "kind": OrgKind.COMPUTE_PROVIDER})
        orgs[provider.id] = org
        users[provider.id] = _user(f"p{i:02d}.member", org, Role.MEMBER, password)
    for site in catalog.sites.values():
        user, org = users[site.provider], orgs[site.provider]
        form = SiteForm(data={"code": site.id, "name": site.name, "hub": site.hub.value, "region": site.region,
                              "pue": str(site.pue), "green_share": str(site.green_share),
                              "latency_ms": str(site.latency_ms)})
        actions.create_site(user, org, form)
    for pool in catalog.pools.values():
        site = catalog.sites[pool.site]
        user = users[site.provider]
        site_pk = Site.objects.get(code=site.id).pk
        form = PoolForm(data={"site": str(site_pk), "code": pool.id, "accelerator": pool.accelerator,
                              "count": str(pool.count), "per_node": str(pool.per_node),
                              "memory_gb": str(pool.memory_gb), "price_per_hour": str(pool.price_per_hour),
                              "backend": pool.backend, "active": "on"},
                        provider_ids={orgs[site.provider].pk})
        actions.create_pool(user, form)
    return orgs, users


def _program(user, department, today, **fields) -> SubsidyProgram:
    data = {"level": Level.CITY, "district": "", "valid_from": (today - timedelta(days=45)).isoformat(),
            "valid_to": today.replace(month=12, day=31).isoformat(), "description": "", **fields}
    if data["valid_to"] <= today.isoformat():
        data["valid_to"] = (today + timedelta(days=300)).isoformat()
    data = {k: ("on" if v is True else "" if v is False else str(v)) for k, v in data.items()}
    return actions.create_program(user, department, ProgramForm(data=data))


def _apply(member, org, program, amount: int, purpose: str) -> VoucherApplication:
    form = ApplicationForm(data={"program": str(program.pk), "amount_requested": str(amount), "purpose": purpose})
    return actions.create_application(member, org, form, submit=True)


def _job(member, org, pool: Pool, name: str, script: str, accelerators: int, vouchers) -> Job:
    form = JobForm(data={
        "name": name, "script": script, "accelerators": str(accelerators),
        "accelerator_models": [bridge.canonical_accelerator(pool.accelerator) or pool.accelerator],
        "estimated_hours": "0.5", "data_region": "shanghai", "data_may_leave": "on", "data_grade": "general",
        "data_size_gb": "20", "workload": "training", "preference": "cheapest", "pool": pool.code,
        "vouchers": [str(v.pk) for v in vouchers], "data_location": f"/data/{org.code.lower()}/",
    }, organization=org)
    return actions.submit_job(member, org, form)


def load_compute_demo(rng: random.Random, *, run_jobs: bool = True) -> dict[str, Any]:
    """Create the compute demo (see the module docstring) through the actions; return what was made.

    run_jobs=True runs the demo jobs now on the local backend and bills them (a few seconds); with False
    they stay queued for `gaodi worker`. Call once, on a database without compute data.
    """
    password = make_password(DEMO_PASSWORD)
    today = timezone.localdate()
    department, reviewer = _economy(password)
    providers, provider_users = _providers(rng, password)

    general = _program(reviewer, department, today, code=f"sh-{today.year}-general",
                       name=f"{today.year} 年上海市公共算力券（普惠）", rate="0.30", budget="2000000",
                       per_enterprise_annual_cap="200000", max_voucher_amount="100000",
                       description="面向在本市登记注册的人工智能企业，按挂牌价的 30% 抵扣算力费用。")
    sme = _program(reviewer, department, today, code=f"sh-{today.year}-sme", name=f"{today.year} 年上海市中小企业算力券",
                   rate="0.20", budget="1000000", sme_only=True, max_voucher_amount="50000",
                   description="中小企业在普惠算力券之外再享 20% 补贴（市级合计不超过 50%）。")

    members = list(User.objects.filter(memberships__role=Role.MEMBER, memberships__organization__kind=OrgKind.ENTERPRISE,
                                       is_active=True).select_related().distinct().order_by("username"))
    firms: list[tuple[Organization, User]] = []
    seen: set[int] = set()
    for user in members:
        org = Organization.objects.filter(memberships__user=user, memberships__role=Role.MEMBER,
                                          kind=OrgKind.ENTERPRISE).order_by("code").first()
        if org is not None and org.pk not in seen:
            seen.add(org.pk)
            firms.append((org, user))
    firms = firms[:1] + sorted(firms[1:12], key=lambda f: rng.random())[:6]

    district_program = None
    if firms and firms[0][0].district:
        district_gov = Organization.objects.filter(kind=OrgKind.DISTRICT, district=firms[0][0].district).first()
        if district_gov is not None:
            district_reviewer = _user(f"q{firms[0][0].district}-reviewer", district_gov, Role.REVIEWER, password)
            district_program = _program(
                district_reviewer, district_gov, today, code=f"q{firms[0][0].district}-{today.year}-topup",
                name=f"{today.year} 年{district_gov.name.replace('上海市', '').replace('人民政府', '')}算力补贴（叠加）",
                level=Level.DISTRICT, district=firms[0][0].district, rate="0.10", budget="300000",
                description="在市级算力券之外叠加 10%，仅限注册在本区的企业。")

    vouchers_by_org: dict[int, list] = {}
    applications = 0
    for i, (org, member) in enumerate(firms):
        outcome = "approved" if i < 4 else ("submitted" if i == 4 else "returned")
        amount = rng.choice((20000, 30000, 50000, 80000, 100000))
        application = _apply(member, org, general, amount, rng.choice(PURPOSES))
        applications += 1
        if outcome == "submitted":
            continue
        if outcome == "returned":
            actions.return_application(reviewer, application, "请补充预计用量的测算依据（卡时、周期）。")
            continue
        granted = Decimal(amount) if i != 2 else Decimal(amount) * Decimal("0.8")
        vouchers_by_org.setdefault(org.pk, []).append(
            actions.approve_application(reviewer, application, granted, "符合申请条件，予以支持。"))
        if org.is_sme:
            application = _apply(member, org, sme, min(amount, 50000), rng.choice(PURPOSES))
            applications += 1
            vouchers_by_org[org.pk].append(actions.approve_application(reviewer, application, None, ""))
        if i == 0 and district_program is not None and not actions.eligibility_errors(org, district_program):
            application = _apply(member, org, district_program, 20000, rng.choice(PURPOSES))
            applications += 1
            district_reviewer = User.objects.get(username=f"q{firms[0][0].district}-reviewer")
            vouchers_by_org[org.pk].append(actions.approve_application(district_reviewer, application, None, ""))

    local_pool = Pool.objects.filter(backend="local", active=True).order_by("count", "code").first()
    jobs: list[Job] = []
    queued = None
    if local_pool is not None:
        for i, (org, member) in enumerate(firms[:4]):
            for k in range(2 if i else 3):
                name, script = SCRIPTS[(i + k) % len(SCRIPTS)]
                jobs.append(_job(member, org, local_pool, name, script, rng.choice((1, 2, 4)),
                                 vouchers_by_org.get(org.pk, [])))
        org, member = firms[0]
        jobs.append(_job(member, org, local_pool, FAILING_SCRIPT[0], FAILING_SCRIPT[1], 1,
                         vouchers_by_org.get(org.pk, [])))
        if run_jobs:
            _run(jobs)
            _backdate(rng, jobs, today)
        queued = _job(firms[0][1], firms[0][0], local_pool, "夜间批量推理", 'echo "批量推理 5000 条"; sleep 0.2\n', 1,
                      vouchers_by_org.get(firms[0][0].pk, []))
    return {
        "providers": len(providers), "sites": Site.objects.count(), "pools": Pool.objects.count(),
        "programs": SubsidyProgram.objects.count(), "applications": applications,
        "vouchers": sum(len(v) for v in vouchers_by_org.values()),
        "jobs": Job.objects.count(), "jobs_finished": Job.objects.filter(state__in=[JobState.COMPLETED,
                                                                                   JobState.FAILED]).count(),
        "bills": Redemption.objects.count(), "queued_job": queued.pk if queued else None,
        "logins": sorted([u.username for u in provider_users.values()]
                         + [f"{firms[0][1].username}" if firms else ""] + [reviewer.username]),
    }


def _run(jobs: list[Job]) -> None:
    """Submit the jobs to the local backend and follow them to the end (they run side by side)."""
    for job in jobs:
        actions.dispatch_job(job.pk)
    deadline = time.monotonic() + JOB_WAIT_S
    pending = [j.pk for j in jobs]
    while pending and time.monotonic() < deadline:
        time.sleep(0.2)
        pending = [pk for pk in pending if not actions.refresh_job(pk).is_terminal]


def _backdate(rng: random.Random, jobs: list[Job], today) -> None:
    """Demo realism only: spread finished jobs, their bills and the applications over recent working days."""
    tz = timezone.get_default_timezone()
    days = []
    day = today - timedelta(days=1)
    while len(days) < 15:
        if workdays.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    for job in Job.objects.filter(pk__in=[j.pk for j in jobs], finished_at__isnull=False):
        d = rng.choice(days)
        start = datetime(d.year, d.month, d.day, rng.randint(9, 17), rng.randint(0, 59), tzinfo=tz)
        wait = timedelta(seconds=rng.randint(5, 900))
        shift = start + wait - (job.started_at or job.created_at)
        Job.objects.filter(pk=job.pk).update(
            created_at=start, submitted_at=start + timedelta(seconds=2), started_at=start + wait,
            finished_at=(job.finished_at + shift) if job.finished_at else None)
        Redemption.objects.filter(job=job).update(created_at=(job.finished_at + shift) if job.finished_at else start,
                                                  period_start=start + wait)
    for application in VoucherApplication.objects.filter(submitted_at__isnull=False):
        d = rng.choice(days)
        VoucherApplication.objects.filter(pk=application.pk).update(
            submitted_at=datetime(d.year, d.month, d.day, rng.randint(9, 17), rng.randint(0, 59), tzinfo=tz))

