"""Permission specs for the evaluation service's API, certificates (PDF, verification) and the catalog's
withdraw/remove transitions (the pages' specs for the same models are in permission_matrix.py)."""

from __future__ import annotations

# Relative on purpose: under pytest this package is `apps.permission_specs` (tests/ has no __init__.py), so an
# absolute `tests.apps.permission_matrix` would be a second copy of the module with its own SPECS.
from ..permission_matrix import (
    LOGIN,
    Case,
    ModelSpec,
    _catalog_entry,
    _catalog_owner_users,
    _catalog_reviewer_users,
    _catalog_snapshot,
    _evaluation_request,
    _evaluation_snapshot,
    _issued_evaluation,
    _u,
    register,
)

API = "/api/v1"


def _owner_users(world):
    return {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice, "other_org": world.bob}


def _institution_users(world):
    return {"anonymous": None, "unprivileged": world.nobody, "permitted": world.tina, "other_org": world.ted}


register(ModelSpec(
    "algorithms.evaluationrequest(api, owner)",
    lambda world, mf: (_evaluation_request(world, mf), _owner_users(world)),
    _evaluation_snapshot,
    [
        Case("api detail", "GET", lambda o: f"{API}/evaluations/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api progress", "GET", lambda o: f"{API}/evaluations/{o.pk}/progress",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api list", "GET", lambda o: f"{API}/evaluations",
             {"anonymous": 401, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api accept (owner may not)", "POST", lambda o: f"{API}/evaluations/{o.pk}/transitions/accept",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, api=True),
    ],
))

register(ModelSpec(
    "algorithms.evaluationrequest(api, institution)",
    lambda world, mf: (_evaluation_request(world, mf), _institution_users(world)),
    _evaluation_snapshot,
    [
        Case("api detail", "GET", lambda o: f"{API}/evaluations/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api accept", "POST", lambda o: f"{API}/evaluations/{o.pk}/transitions/accept",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api decline", "POST", lambda o: f"{API}/evaluations/{o.pk}/transitions/decline",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"comment": "超出认可范围"}, api=True),
    ],
))

# An issued certificate is public: its pages, its PDF and its API verification answer everyone.
register(ModelSpec(
    "algorithms.evaluationcertificate",
    lambda world, mf: (_issued_evaluation(world, mf).certificate, _owner_users(world)),
    lambda c: (type(c).objects.get(pk=c.pk).revoked_at, type(c).objects.count()),
    [
        Case("verification page", "GET", lambda c: f"/verify/{c.certificate_id}/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("certificate page", "GET", lambda c: f"/verify/{c.certificate_id}/certificate/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("certificate pdf", "GET", lambda c: f"/verify/{c.certificate_id}/certificate.pdf",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("api certificate", "GET", lambda c: f"{API}/certificates/{c.certificate_id}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api public key", "GET", lambda c: f"{API}/public-key",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("revoke (owner may not)", "POST", lambda c: f"/evaluations/{c.request_id}/revoke/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404},
             data={"comment": "企业不能撤销证书"}),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(pending, owner: withdraw)",
    lambda world, mf: (_catalog_entry(world, mf), _catalog_owner_users(world)),
    _catalog_snapshot,
    [
        Case("withdraw", "POST", _u("algorithms:catalog_transition", "withdraw"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "材料需要完善"}),
        Case("api detail", "GET", lambda o: f"{API}/catalog/{o.pk}",
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api withdraw", "POST", lambda o: f"{API}/catalog/{o.pk}/transitions/withdraw",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"comment": "材料需要完善"}, api=True),
        Case("api approve (owner may not)", "POST", lambda o: f"{API}/catalog/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, api=True),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(pending, department: api)",
    lambda world, mf: (_catalog_entry(world, mf), _catalog_reviewer_users(world)),
    _catalog_snapshot,
    [
        Case("api approve", "POST", lambda o: f"{API}/catalog/{o.pk}/transitions/approve",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(approved, department: remove)",
    lambda world, mf: (_catalog_entry(world, mf, "approved"), _catalog_reviewer_users(world)),
    _catalog_snapshot,
    [
        Case("remove", "POST", _u("algorithms:catalog_transition", "remove"),
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 302, "other_org": 403},
             data={"comment": "发现歧视性结果"}),
        Case("api remove", "POST", lambda o: f"{API}/catalog/{o.pk}/transitions/remove",
             {"anonymous": 401, "unprivileged": 403, "permitted": 200, "other_org": 403},
             data={"comment": "发现歧视性结果"}, api=True),
        Case("api public detail", "GET", lambda o: f"{API}/catalog/{o.pk}",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api public list", "GET", lambda o: f"{API}/catalog",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
    ],
))

register(ModelSpec(
    "algorithms.catalogentry(approved, owner: withdraw)",
    lambda world, mf: (_catalog_entry(world, mf, "approved"), _catalog_owner_users(world)),
    _catalog_snapshot,
    [
        Case("withdraw", "POST", _u("algorithms:catalog_transition", "withdraw"),
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 302, "other_org": 403},
             data={"comment": "产品下线"}),
        Case("remove (owner may not)", "POST", _u("algorithms:catalog_transition", "remove"),
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 403, "other_org": 403},
             data={"comment": "企业不能移出"}),
    ],
))
