"""Permission specs of the compute service's lists and exports (issue 4): the public pools and hubs, an
enterprise's jobs and bills, a department's voucher applications. Which rows each viewer gets is checked in
tests/apps/compute/test_compute_app_exports.py; here, who may open each page at all."""

from __future__ import annotations

from ..permission_matrix import LOGIN, Case, ModelSpec, _compute, _job_objects, _job_snapshot, register


def _pool_objects(world, make_filing):
    c = _compute(world)
    return c.pool, {"anonymous": None, "unprivileged": world.nobody, "permitted": c.petra, "other_org": c.quinn}


def _pool_snapshot(pool):
    from gaodi.apps.compute.models import Pool

    p = Pool.objects.get(pk=pool.pk)
    return (p.price_per_hour, p.count, p.active, p.backend_options, Pool.objects.count())


PUBLIC = {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}

register(ModelSpec(
    "compute.pool(exports)",
    _pool_objects,
    _pool_snapshot,
    [
        Case("pools csv", "GET", lambda o: "/compute/?format=csv", PUBLIC),
        Case("pools xlsx", "GET", lambda o: "/compute/?format=xlsx", PUBLIC),
        Case("hubs json", "GET", lambda o: "/compute/?table=hubs&format=json", PUBLIC),
        Case("edit post with backend options", "POST", lambda o: f"/compute/provider/pools/{o.pk}/edit/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"code": "sh-local", "accelerator": "MLU370", "count": "8", "per_node": "8",
                   "price_per_hour": "120.00", "backend": "slurm", "backend_options": "partition=gpu",
                   "active": "on"}),
    ],
))

ENTERPRISE = {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}

register(ModelSpec(
    "compute.job(lists)",
    _job_objects,
    _job_snapshot,
    [
        Case("job list", "GET", lambda o: "/compute/workspace/jobs/", ENTERPRISE),
        Case("job list csv", "GET", lambda o: "/compute/workspace/jobs/?format=csv", ENTERPRISE),
        Case("bill list", "GET", lambda o: "/compute/workspace/bills/", ENTERPRISE),
        Case("bill list json", "GET", lambda o: "/compute/workspace/bills/?format=json", ENTERPRISE),
    ],
))


def _application_list_objects(world, make_filing):
    c = _compute(world)
    return c.application, {"anonymous": None, "unprivileged": world.bob, "permitted": world.ron, "other_org": c.dora}


def _application_snapshot(application):
    from gaodi.apps.compute.models import VoucherApplication

    a = VoucherApplication.objects.get(pk=application.pk)
    return (a.state, a.approved_amount, a.amount_requested)


DEPARTMENT = {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}

register(ModelSpec(
    "compute.voucherapplication(department list)",
    _application_list_objects,
    _application_snapshot,
    [
        Case("application list", "GET", lambda o: "/compute/review/applications/", DEPARTMENT),
        Case("application list xlsx", "GET", lambda o: "/compute/review/applications/?format=xlsx", DEPARTMENT),
    ],
))
