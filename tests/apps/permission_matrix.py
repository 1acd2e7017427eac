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
