"""NetBox-style generic permission coverage.

Each model registered with `gaodi.apps.core.permissions` declares a ModelSpec: how to make an object
and, for every view and API endpoint, the status each persona gets: anonymous, unprivileged (signed in,
no organization), permitted (owner or responsible reviewer) and other_org (a member of another
organization of the same kind). `test_permission_matrix.py` runs every case and checks that a refused
request changed nothing; a test fails if a registered model has no spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

PERSONAS = ("anonymous", "unprivileged", "permitted", "other_org")
LOGIN = "login"  # expected outcome: redirect to the login page


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[object], str]
    expect: dict[str, int | str]
    data: dict = field(default_factory=dict)
    api: bool = False


@dataclass(frozen=True)
class ModelSpec:
    model_label: str
    # make(world, make_filing) -> (object, {persona: user or None})
    make: Callable
    snapshot: Callable[[object], tuple]
    cases: list[Case]


SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> None:
    SPECS[spec.model_label] = spec


def _filing_objects(world, make_filing, state):
    filing = make_filing(state)
    return filing, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice,
                    "other_org": world.bob}


def _filing_snapshot(filing):
    from gaodi.apps.algorithms.models import AlgorithmFiling

    f = AlgorithmFiling.objects.get(pk=filing.pk)
    return (f.state, f.name, f.filing_number, f.public_text, f.report.name, f.approved_at)


def _u(name, *args):
    from django.urls import reverse

    return lambda obj: reverse(name, args=[obj.pk, *args])


# A draft: private to its enterprise. Everyone else must get 404 (existence is not disclosed).
register(ModelSpec(
    "algorithms.algorithmfiling(draft)",
    lambda world, mf: _filing_objects(world, mf, "draft"),
    _filing_snapshot,
    [
        Case("public page", "GET", _u("algorithms:filing_detail"),
             {"anonymous": 404, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("workspace page", "GET", _u("algorithms:workspace_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit page", "GET", _u("algorithms:filing_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", _u("algorithms:filing_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"name": "改名", "department": "__cyber__"}),
        Case("report download", "GET", _u("algorithms:report_download"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("submit", "POST", _u("algorithms:owner_transition", "submit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("review page", "GET", _u("algorithms:review_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}),
        Case("api detail", "GET", lambda o: f"/api/v1/filings/{o.pk}",
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api transition", "POST", lambda o: f"/api/v1/filings/{o.pk}/transitions/submit",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"comment": ""}, api=True),
    ],
))

# A submitted filing seen by reviewers: the responsible department's reviewer is "permitted", the
# other department's reviewer is "other_org".
def _submitted_for_review(world, make_filing):
    filing = make_filing("submitted")
    return filing, {"anonymous": None, "unprivileged": world.bob, "permitted": world.rita, "other_org": world.ron}


register(ModelSpec(
    "algorithms.algorithmfiling(submitted)",
    _submitted_for_review,
    _filing_snapshot,
    [
        Case("review page", "GET", _u("algorithms:review_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("review report", "GET", _u("algorithms:review_report"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve", "POST", _u("algorithms:review_transition", "approve"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("return", "POST", _u("algorithms:review_transition", "return"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "请补充"}),
        Case("api approve", "POST", lambda o: f"/api/v1/filings/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"comment": ""}, api=True),
    ],
))

# An approved filing is public; only its enterprise may ask for deregistration or a change.
register(ModelSpec(
    "algorithms.algorithmfiling(approved)",
    lambda world, mf: _filing_objects(world, mf, "approved"),
    _filing_snapshot,
    [
        Case("public page", "GET", _u("algorithms:filing_detail"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("api detail", "GET", lambda o: f"/api/v1/filings/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("report download", "GET", _u("algorithms:report_download"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("deregister", "POST", _u("algorithms:owner_transition", "request_deregistration"),
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 302, "other_org": 403},
             data={"comment": "产品下线"}),
    ],
))


def _batch(world, make_filing):
    from datetime import timedelta

    from django.utils import timezone

    from gaodi.apps.algorithms import actions

    make_filing("approved")
    today = timezone.localdate()
    batch = actions.publish_batch(world.paul, world.cyber, "测试批次", today - timedelta(days=30), today)
    return batch, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.paul, "other_org": world.ron}


def _batch_snapshot(batch):
    from gaodi.apps.algorithms.models import DisclosureBatch

    b = DisclosureBatch.objects.get(pk=batch.pk)
    return (b.number, b.item_count, b.content_sha256, DisclosureBatch.objects.count())


register(ModelSpec(
    "algorithms.disclosurebatch",
    _batch,
    _batch_snapshot,
    [
        Case("public page", "GET", _u("algorithms:batch_detail"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("csv export", "GET", lambda o: f"/disclosures/{o.pk}/?format=csv",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("publish page", "GET", lambda o: "/disclosures/publish/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 403}),
        Case("api detail", "GET", lambda o: f"/api/v1/disclosures/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
    ],
))


# ---- compute (Art. 12-13): providers' sites and pools, programmes, voucher applications, vouchers, jobs ----

def _compute(world):
    """Two providers (petra, quinn), a site and a pool each, the economy department's programme, a district
    government's reviewer (dora, another subsidy department) and a voucher application of ent_a."""
    from gaodi.apps.compute import actions
    from gaodi.apps.compute.forms import ApplicationForm, PoolForm, ProgramForm, SiteForm
    from gaodi.apps.core.models import Membership, Organization, User

    c = type("Compute", (), {})()

    def member(username, org, role="member"):
        user = User.objects.create_user(username=username, password="correct-horse-battery")
        Membership.objects.create(user=user, organization=org, role=role)
        return user

    prov_a = Organization.objects.create(code="P01", name="东方云算", kind="compute_provider")
    prov_b = Organization.objects.create(code="P02", name="西部绿算", kind="compute_provider")
    xuhui = Organization.objects.create(code="Q310104", name="上海市徐汇区人民政府", kind="district", district="310104")
    c.petra, c.quinn, c.dora = member("petra", prov_a), member("quinn", prov_b), member("dora", xuhui, "reviewer")
    c.site = actions.create_site(c.petra, prov_a, SiteForm(data=_COMPUTE_SITE))
    c.other_site = actions.create_site(c.quinn, prov_b, SiteForm(data={**_COMPUTE_SITE, "code": "nx-zhongwei"}))
    c.pool = actions.create_pool(c.petra, PoolForm(data={**_COMPUTE_POOL, "site": str(c.site.pk)},
                                                   provider_ids={prov_a.pk}))
    c.program = actions.create_program(world.ron, world.economy, ProgramForm(data=_COMPUTE_PROGRAM))
    c.application = actions.create_application(world.alice, world.ent_a, ApplicationForm(data={
        "program": str(c.program.pk), "amount_requested": "500", "purpose": "训练行业大模型，预计 100 卡时。"}))
    return c


_COMPUTE_SITE = {"code": "sh-songjiang", "name": "松江数据中心", "hub": "yangtze_river_delta", "region": "shanghai",
                 "pue": "1.30", "green_share": "0.25", "latency_ms": "3"}


def _compute_program_data() -> dict:
    from datetime import date, timedelta

    today = date.today()
    return {"code": "sh-general", "name": "上海市算力券", "level": "city", "rate": "0.30", "budget": "10000",
            "valid_from": (today - timedelta(days=5)).isoformat(), "valid_to": (today + timedelta(days=60)).isoformat()}


_COMPUTE_PROGRAM = _compute_program_data()
_COMPUTE_POOL = {"code": "sh-local", "accelerator": "MLU370", "count": "8", "per_node": "8", "price_per_hour": "120.00",
                 "backend": "local", "active": "on"}


def _site_objects(world, make_filing):
    c = _compute(world)
    return c.site, {"anonymous": None, "unprivileged": world.nobody, "permitted": c.petra, "other_org": c.quinn}


def _site_snapshot(site):
    from gaodi.apps.compute.models import Site

    s = Site.objects.get(pk=site.pk)
    return (s.name, s.pue, s.code, Site.objects.count())


register(ModelSpec(
    "compute.site",
    _site_objects,
    _site_snapshot,
    [
        Case("edit page", "GET", lambda o: f"/compute/provider/sites/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", lambda o: f"/compute/provider/sites/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={**_COMPUTE_SITE, "name": "改名的数据中心", "pue": "1.20"}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/sites/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api create", "POST", lambda o: "/api/v1/compute/sites",
             {"anonymous": 401, "unprivileged": 403, "permitted": 201, "other_org": 201},
             data={**_COMPUTE_SITE, "code": "gz-guian", "hub": "guizhou", "region": "guizhou"}, api=True),
    ],
))


def _pool_snapshot(pool):
    from gaodi.apps.compute.models import Pool

    p = Pool.objects.get(pk=pool.pk)
    return (p.price_per_hour, p.count, p.active, p.site_id, Pool.objects.count())


register(ModelSpec(
    "compute.pool",
    lambda world, mf: (lambda c: (c.pool, {"anonymous": None, "unprivileged": world.nobody, "permitted": c.petra,
                                           "other_org": c.quinn}))(_compute(world)),
    _pool_snapshot,
    [
        Case("public page", "GET", lambda o: f"/compute/pools/{o.pk}/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("public capacity page", "GET", lambda o: "/compute/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("edit page", "GET", lambda o: f"/compute/provider/pools/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", lambda o: f"/compute/provider/pools/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={**_COMPUTE_POOL, "price_per_hour": "99.00"}),
        Case("provider page", "GET", lambda o: "/compute/provider/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/pools/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
    ],
))


def _program_snapshot(program):
    from gaodi.apps.compute.models import LedgerEntry, SubsidyProgram

    p = SubsidyProgram.objects.get(pk=program.pk)
    return (p.budget, p.rate, p.name, SubsidyProgram.objects.count(), LedgerEntry.objects.count())


register(ModelSpec(
    "compute.subsidyprogram",
    lambda world, mf: (lambda c: (c.program, {"anonymous": None, "unprivileged": world.nobody,
                                              "permitted": world.ron, "other_org": c.dora}))(_compute(world)),
    _program_snapshot,
    [
        Case("public page", "GET", lambda o: f"/compute/programs/{o.pk}/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("edit page", "GET", lambda o: f"/compute/programs/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", lambda o: f"/compute/programs/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={**_COMPUTE_PROGRAM, "budget": "20000"}),
        Case("create page", "GET", lambda o: "/compute/programs/new/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("dashboard", "GET", lambda o: "/compute/dashboard/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/programs/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api dashboard", "GET", lambda o: "/api/v1/compute/dashboard",
             {"anonymous": 401, "unprivileged": 403, "permitted": 200, "other_org": 200}, api=True),
    ],
))


def _application_snapshot(application):
    from gaodi.apps.compute.models import Voucher, VoucherApplication

    a = VoucherApplication.objects.get(pk=application.pk)
    return (a.state, a.approved_amount, a.amount_requested, Voucher.objects.count())


# A submitted application seen by reviewers: the economy department's reviewer is "permitted", another
# subsidy department's reviewer (a district government) is "other_org"; another enterprise is "unprivileged".
register(ModelSpec(
    "compute.voucherapplication(review)",
    lambda world, mf: (lambda c: (c.application, {"anonymous": None, "unprivileged": world.bob,
                                                  "permitted": world.ron, "other_org": c.dora}))(_compute(world)),
    _application_snapshot,
    [
        Case("review page", "GET", lambda o: f"/compute/review/applications/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve", "POST", lambda o: f"/compute/review/applications/{o.pk}/approve/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "", "approved_amount": "400"}),
        Case("return", "POST", lambda o: f"/compute/review/applications/{o.pk}/return/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "请补充用量测算"}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/applications/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api approve", "POST", lambda o: f"/api/v1/compute/applications/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"comment": ""}, api=True),
    ],
))

register(ModelSpec(
    "compute.voucherapplication(owner)",
    lambda world, mf: (lambda c: (c.application, {"anonymous": None, "unprivileged": world.nobody,
                                                  "permitted": world.alice, "other_org": world.bob}))(_compute(world)),
    _application_snapshot,
    [
        Case("workspace page", "GET", lambda o: f"/compute/workspace/applications/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("withdraw", "POST", lambda o: f"/compute/workspace/applications/{o.pk}/withdraw/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("api withdraw", "POST", lambda o: f"/api/v1/compute/applications/{o.pk}/transitions/withdraw",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, data={}, api=True),
        Case("api approve own", "POST", lambda o: f"/api/v1/compute/applications/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, data={}, api=True),
    ],
))


def _voucher_objects(world, make_filing):
    from gaodi.apps.compute import actions

    c = _compute(world)
    voucher = actions.approve_application(world.ron, c.application)
    return voucher, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice, "other_org": world.bob}


def _voucher_snapshot(voucher):
    from gaodi.apps.compute.models import Voucher

    v = Voucher.objects.get(pk=voucher.pk)
    return (v.balance, v.amount, v.expires_on)


register(ModelSpec(
    "compute.voucher",
    _voucher_objects,
    _voucher_snapshot,
    [
        Case("voucher page", "GET", lambda o: f"/compute/workspace/vouchers/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/vouchers/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))


def _job_objects(world, make_filing):
    from gaodi.apps.compute import actions
    from gaodi.apps.compute.forms import JobForm

    _compute(world)
    form = JobForm(data={"name": "作业", "script": "echo hi\n", "accelerators": "1", "accelerator_models": ["MLU370"],
                         "estimated_hours": "0.5", "data_region": "shanghai", "data_may_leave": "on",
                         "data_grade": "general", "workload": "training", "preference": "cheapest"},
                   organization=world.ent_a)
    job = actions.submit_job(world.alice, world.ent_a, form)
    return job, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice, "other_org": world.bob}


def _job_snapshot(job):
    from gaodi.apps.compute.models import Job

    j = Job.objects.get(pk=job.pk)
    return (j.state, j.cancel_requested, j.backend_job_id, Job.objects.count())


register(ModelSpec(
    "compute.job",
    _job_objects,
    _job_snapshot,
    [
        Case("job page", "GET", lambda o: f"/compute/workspace/jobs/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("status fragment", "GET", lambda o: f"/compute/workspace/jobs/{o.pk}/status/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("cancel", "POST", lambda o: f"/compute/workspace/jobs/{o.pk}/cancel/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("new job page", "GET", lambda o: "/compute/workspace/jobs/new/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("api detail", "GET", lambda o: f"/api/v1/compute/jobs/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api logs", "GET", lambda o: f"/api/v1/compute/jobs/{o.pk}/logs",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api cancel", "POST", lambda o: f"/api/v1/compute/jobs/{o.pk}/cancel",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))


# ---- data resources (gaodi.apps.data) --------------------------------------------------------------

def _data_dataset(world, open_type="conditional"):
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import DatasetForm

    return actions.create_dataset(world.paul, world.cyber, DatasetForm(data={
        "title": "矩阵数据集", "description": "权限矩阵", "theme": "general", "licence": "CC BY 4.0",
        "update_frequency": "monthly", "spatial": "上海市", "open_type": open_type, "security_level": "general",
        "conditions": "科研使用"}))


def _data_application(world):
    from gaodi.apps.core.models import Organization
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import ApplicationForm

    form = ApplicationForm(data={"organization": world.ent_a.pk, "purpose": "训练模型用于交通预测研究。",
                                 "scenario": "交通", "security_measures": "专网", "term_days": 30},
                           enterprises=Organization.objects.filter(pk=world.ent_a.pk))
    return actions.apply_for_access(world.alice, _data_dataset(world), form)


def _dataset_snapshot(d):
    from gaodi.apps.data.models import Dataset

    d = Dataset.objects.get(pk=d.pk)
    return (d.title, d.open_type, d.security_level, d.resources.count(), d.gradings.count())


register(ModelSpec(
    "data.dataset",
    lambda world, mf: (_data_dataset(world), {"anonymous": None, "unprivileged": world.nobody,
                                              "permitted": world.paul, "other_org": world.bob}),
    _dataset_snapshot,
    [
        Case("public page", "GET", _u("data:dataset_detail"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("edit page", "GET", _u("data:dataset_edit"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("grading post", "POST", _u("data:grading_decide"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"security_level": "important", "open_type": "not_open"}),
        Case("api detail", "GET", lambda o: f"/api/v1/data/datasets/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
    ],
))


def _application_snapshot(a):
    from gaodi.apps.data.models import AccessApplication, Grant

    a = AccessApplication.objects.get(pk=a.pk)
    return (a.state, a.decided_at, Grant.objects.count())


register(ModelSpec(
    "data.accessapplication",
    lambda world, mf: (_data_application(world), {"anonymous": None, "unprivileged": world.nobody,
                                                  "permitted": world.rita, "other_org": world.ron}),
    _application_snapshot,
    [
        Case("page", "GET", _u("data:application_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve", "POST", _u("data:application_transition", "approve"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("api approve", "POST", lambda o: f"/api/v1/data/applications/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, data={"comment": ""},
             api=True),
    ],
))


def _data_grant(world):
    from gaodi.apps.data import actions

    application = actions.decide_application(world.rita, _data_application(world), "approve")
    return application.grant


register(ModelSpec(
    "data.grant",
    lambda world, mf: (_data_grant(world), {"anonymous": None, "unprivileged": world.nobody,
                                            "permitted": world.alice, "other_org": world.bob}),
    lambda g: (type(g).objects.get(pk=g.pk).expires_at,),
    [
        Case("api detail", "GET", lambda o: f"/api/v1/data/grants/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))


def _data_openlist(world):
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import OpenListEntryForm

    form = OpenListEntryForm(data={"name": "矩阵数据项", "scope": "全市", "open_type": "unconditional",
                                   "update_frequency": "daily"}, department=world.cyber)
    return actions.set_open_list_entry(world.paul, world.cyber, form)


register(ModelSpec(
    "data.openlistversion",
    lambda world, mf: (_data_openlist(world), {"anonymous": None, "unprivileged": world.nobody,
                                               "permitted": world.paul, "other_org": world.ron}),
    lambda v: (type(v).objects.count(),),
    [
        Case("history", "GET", lambda o: f"/data/open-lists/{o.department_id}/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("manage post", "POST", lambda o: "/data/open-lists/manage/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 302, "other_org": 403},
             data={"name": "新数据项", "scope": "全市", "open_type": "unconditional", "update_frequency": "daily"}),
    ],
))


# ---- algorithm evaluations (Art. 15): an enterprise's request to a testing institution ----

def _evaluation_request(world, make_filing):
    """ent_a's request for its approved filing, addressed to lab (tina); lab2 (ted) is another institution."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gaodi.apps.algorithms import evaluation_actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm
    from gaodi.apps.core.models import Membership, Organization, User

    lab = Organization.objects.create(code="T0001", name="矩阵检测中心", kind="testing")
    lab2 = Organization.objects.create(code="T0002", name="矩阵另一检测机构", kind="testing")
    world.tina = User.objects.create_user(username="tina", password="correct-horse-battery")
    Membership.objects.create(user=world.tina, organization=lab, role="member")
    world.ted = User.objects.create_user(username="ted", password="correct-horse-battery")
    Membership.objects.create(user=world.ted, organization=lab2, role="member")
    plan = 'target = "y"\npositive_label = "yes"\n'
    files = {"model": SimpleUploadedFile("m.onnx", b"not really onnx; never run in the matrix"),
             "data": SimpleUploadedFile("d.csv", b"x,y\n1,yes\n0,no\n")}
    form = EvaluationRequestForm(data={"institution": lab.pk, "plan": plan}, files=files)
    return evaluation_actions.request_evaluation(world.alice, make_filing("approved"), form)


def _evaluation_snapshot(request):
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest

    r = EvaluationRequest.objects.get(pk=request.pk)
    return (r.state, r.attempt, r.failure_reason, EvaluationRequest.objects.count())


register(ModelSpec(
    "algorithms.evaluationrequest(owner)",
    lambda world, mf: (_evaluation_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                        "permitted": world.alice, "other_org": world.bob}),
    _evaluation_snapshot,
    [
        Case("detail page", "GET", _u("algorithms:evaluation_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("progress panel", "GET", _u("algorithms:evaluation_progress"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("request page", "GET", lambda o: f"/workspace/filings/{o.filing_id}/evaluations/new/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("accept (owner may not)", "POST", _u("algorithms:evaluation_transition", "accept"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}),
        Case("list", "GET", lambda o: "/evaluations/",
             {"anonymous": LOGIN, "unprivileged": 200, "permitted": 200, "other_org": 200}),
    ],
))

register(ModelSpec(
    "algorithms.evaluationrequest(institution)",
    lambda world, mf: (_evaluation_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                        "permitted": world.tina, "other_org": world.ted}),
    _evaluation_snapshot,
    [
        Case("detail page", "GET", _u("algorithms:evaluation_detail"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("accept", "POST", _u("algorithms:evaluation_transition", "accept"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("decline", "POST", _u("algorithms:evaluation_transition", "decline"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "超出认可范围"}),
        Case("report file before a run", "GET", _u("algorithms:evaluation_file", "report"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 404, "other_org": 404}),
    ],
))


# ---- recommended catalog (Art. 15 para. 1) --------------------------------------------------------

def _issued_evaluation(world, make_filing):
    """An evaluation request moved to "issued" with a passing certificate (rows only: the matrix tests
    permissions, not signing)."""
    import json

    from django.utils import timezone

    from gaodi.apps.algorithms.evaluation_models import EvaluationCertificate, EvaluationRequest

    request = _evaluation_request(world, make_filing)
    EvaluationRequest.objects.filter(pk=request.pk).update(state="issued", passed=True)
    EvaluationCertificate.objects.create(
        certificate_id=f"EC-MATRIX-{request.pk}", request=request, signature="x", key_fingerprint="x",
        payload=json.dumps({"passed": True, "checks": [{"metric": "accuracy", "threshold": {"min": 0.5},
                                                        "passed": True, "required": True}]}),
        issued_at=timezone.now(), issued_by=world.tina)
    return EvaluationRequest.objects.get(pk=request.pk)


def _catalog_entry(world, make_filing, state="pending"):
    from gaodi.apps.algorithms import catalog_actions
    from gaodi.apps.algorithms.catalog_forms import NominationForm

    evaluation = _issued_evaluation(world, make_filing)
    entry = catalog_actions.nominate(world.alice, evaluation,
                                     NominationForm(data={"justification": "矩阵测试：模型在多个场景表现稳定。"}))
    if state == "approved":
        entry = catalog_actions.approve(world.rita, entry)
    return entry


def _catalog_snapshot(entry):
    from gaodi.apps.algorithms.catalog_models import CatalogEntry

    e = CatalogEntry.objects.get(pk=entry.pk)
    return (e.state, e.decision_comment, e.decided_at, CatalogEntry.objects.count())


def _catalog_owner_users(world):
    return {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice, "other_org": world.bob}


def _catalog_reviewer_users(world):
    return {"anonymous": None, "unprivileged": world.nobody, "permitted": world.rita, "other_org": world.ron}


register(ModelSpec(
    "algorithms.catalogentry(pending, owner)",
    lambda world, mf: (_catalog_entry(world, mf), _catalog_owner_users(world)),
    _catalog_snapshot,
    [
        Case("entry page", "GET", _u("algorithms:catalog_detail"),
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve (owner may not)", "POST", _u("algorithms:catalog_transition", "approve"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}),
        Case("nominate again while pending", "POST",
             lambda o: f"/evaluations/{o.certificate.request_id}/catalog/nominate/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 400, "other_org": 404},
             data={"justification": "再次申报，应被拒绝。"}),
        Case("manage list", "GET", lambda o: "/workspace/catalog/",
             {"anonymous": LOGIN, "unprivileged": 200, "permitted": 200, "other_org": 200}),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(pending, department)",
    lambda world, mf: (_catalog_entry(world, mf), _catalog_reviewer_users(world)),
    _catalog_snapshot,
    [
        Case("entry page", "GET", _u("algorithms:catalog_detail"),
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve", "POST", _u("algorithms:catalog_transition", "approve"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("reject", "POST", _u("algorithms:catalog_transition", "reject"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "应用成效材料不足"}),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(approved)",
    lambda world, mf: (_catalog_entry(world, mf, "approved"), _catalog_reviewer_users(world)),
    _catalog_snapshot,
    [
        Case("entry page", "GET", _u("algorithms:catalog_detail"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("public list", "GET", lambda o: "/catalog/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("export", "GET", lambda o: "/catalog/?format=json",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("reject after approval", "POST", _u("algorithms:catalog_transition", "reject"),
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 302, "other_org": 403},
             data={"comment": "已审核的条目不能再改"}),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(nominate)",
    lambda world, mf: (_issued_evaluation(world, mf), _catalog_owner_users(world)),
    lambda evaluation: (type(evaluation).objects.get(pk=evaluation.pk).state,
                        evaluation.filing.catalog_entries.count()),
    [
        Case("nomination page", "GET", _u("algorithms:catalog_nominate"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("nominate", "POST", _u("algorithms:catalog_nominate"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"justification": "模型在多个场景表现稳定，值得推广。"}),
    ],
))


def _load_area_specs() -> None:
    import importlib
    import pkgutil

    from . import permission_specs

    for module in pkgutil.iter_modules(permission_specs.__path__):
        importlib.import_module(f"{permission_specs.__name__}.{module.name}")


_load_area_specs()
