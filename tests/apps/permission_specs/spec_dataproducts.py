"""Permission specs of the data area's products, grant revocation and downloads (gaodi.apps.data)."""

from __future__ import annotations

# Relative on purpose: under pytest this package is `apps.permission_specs` (tests/ has no __init__.py), so an
# absolute `tests.apps.permission_matrix` would be a second copy of the module with its own SPECS.
from ..permission_matrix import LOGIN, Case, ModelSpec, register

CSV = "编号,城市,数值\n1,上海,3.5\n2,北京,4.0\n".encode()


def _dataset(world, open_type="unconditional"):
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import DatasetForm

    return actions.create_dataset(world.paul, world.cyber, DatasetForm(data={
        "title": "矩阵产品数据集", "description": "权限矩阵", "theme": "transport", "licence": "CC BY 4.0",
        "update_frequency": "monthly", "spatial": "上海市", "open_type": open_type, "security_level": "general",
        "conditions": "科研使用"}))


def _resource(world, dataset):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import ResourceForm

    form = ResourceForm(data={"name": "矩阵表", "kind": "file"}, files={"file": SimpleUploadedFile("m.csv", CSV)})
    return actions.add_resource(world.paul, dataset, form)


def _other_publisher(world):
    """A publisher of another department (the economy commission): "other_org" for products."""
    from gaodi.apps.core.models import Membership, User

    user = User.objects.create_user(username="eve", password="correct-horse-battery")
    Membership.objects.create(user=user, organization=world.economy, role="publisher")
    return user


def _product(world, published: bool):
    from gaodi.apps.data import actions
    from gaodi.apps.data import products_actions as pactions
    from gaodi.apps.data.products_forms import ProductForm

    dataset = _dataset(world)
    version = actions.run_quality_report(_resource(world, dataset).latest.pk)
    form = ProductForm(data={"title": "矩阵数据产品", "summary": "权限矩阵", "datasets": [dataset.pk],
                             "quality_version": version.pk, "scenario": "交通", "compliance_assessment": "已评估",
                             "price_model": "free"}, publisher=world.cyber)
    product = pactions.create_product(world.paul, world.cyber, form)
    if published:
        product = pactions.publish_product(world.paul, product)
    return product, {"anonymous": None, "unprivileged": world.nobody, "permitted": world.paul,
                     "other_org": _other_publisher(world)}


def _product_snapshot(p):
    from gaodi.apps.data.models import DataProduct

    p = DataProduct.objects.get(pk=p.pk)
    return (p.title, p.state, p.listing_status, p.listing_code, p.price_model, DataProduct.objects.count())


_EDIT = {"title": "改名的产品", "summary": "权限矩阵", "scenario": "交通", "compliance_assessment": "已评估",
         "price_model": "free"}


def _u(pattern):
    return lambda o: pattern.format(pk=o.pk)


# A draft product: only its publisher's organization sees it; to everyone else it does not exist.
register(ModelSpec(
    "data.dataproduct(draft)",
    lambda world, mf: _product(world, published=False),
    _product_snapshot,
    [
        Case("product page", "GET", _u("/data/products/{pk}/"),
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit page", "GET", _u("/data/products/{pk}/edit/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("edit post", "POST", _u("/data/products/{pk}/edit/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data=_EDIT),
        Case("publish", "POST", _u("/data/products/{pk}/publish/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}),
        Case("my products", "GET", lambda o: "/data/products/mine/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("new product page", "GET", lambda o: "/data/products/new/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
        Case("api detail", "GET", _u("/api/v1/data/products/{pk}"),
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
        Case("api publish", "POST", _u("/api/v1/data/products/{pk}/transitions/publish"),
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))

# A published product: public; only its publisher edits it or records its listing status.
register(ModelSpec(
    "data.dataproduct(published)",
    lambda world, mf: _product(world, published=True),
    _product_snapshot,
    [
        Case("product page", "GET", _u("/data/products/{pk}/"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("public list", "GET", lambda o: "/data/products/",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        Case("export", "GET", lambda o: "/data/products/?format=csv",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}),
        # without its datasets and quality version the published card would be incomplete: refused, unchanged
        Case("edit post breaking the card", "POST", _u("/data/products/{pk}/edit/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 400, "other_org": 404}, data=_EDIT),
        Case("record listing", "POST", _u("/data/products/{pk}/listing_submit/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"on": "2024-05-06"}),
        Case("withdraw", "POST", _u("/data/products/{pk}/withdraw/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"comment": "暂停提供"}),
        Case("api detail", "GET", _u("/api/v1/data/products/{pk}"),
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api list", "GET", lambda o: "/api/v1/data/products",
             {"anonymous": 200, "unprivileged": 200, "permitted": 200, "other_org": 200}, api=True),
        Case("api record listing", "POST", _u("/api/v1/data/products/{pk}/transitions/listing_submit"),
             {"anonymous": 401, "unprivileged": 403, "permitted": 200, "other_org": 403},
             data={"on": "2024-05-06"}, api=True),
    ],
))


# ---- grants: revocation by the deciding department, downloads by the holder ----

def _grant(world):
    from gaodi.apps.core.models import Organization
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import ApplicationForm

    dataset = _dataset(world, open_type="conditional")
    resource = _resource(world, dataset)
    form = ApplicationForm(data={"organization": world.ent_a.pk, "purpose": "训练模型用于交通预测研究。",
                                 "scenario": "交通", "security_measures": "专网", "term_days": 30},
                           enterprises=Organization.objects.filter(pk=world.ent_a.pk))
    application = actions.decide_application(world.rita, actions.apply_for_access(world.alice, dataset, form),
                                             "approve")
    grant = application.grant
    grant.resource_id = resource.pk
    return grant


def _grant_snapshot(g):
    from gaodi.apps.data.models import Grant

    g = Grant.objects.get(pk=g.pk)
    return (g.revoked_at, g.revoke_reason, g.revoked_by_id, g.expires_at)


register(ModelSpec(
    "data.grant(revoke)",
    lambda world, mf: (_grant(world), {"anonymous": None, "unprivileged": world.nobody, "permitted": world.rita,
                                       "other_org": world.ron}),
    _grant_snapshot,
    [
        Case("revoke", "POST", _u("/data/grants/{pk}/revoke/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404},
             data={"reason": "违反开放条件"}),
        Case("api revoke", "POST", _u("/api/v1/data/grants/{pk}/revoke"),
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={"reason": "违反开放条件"}, api=True),
        Case("review queue", "GET", lambda o: "/data/review/",
             {"anonymous": LOGIN, "unprivileged": 403, "permitted": 200, "other_org": 200}),
    ],
))

register(ModelSpec(
    "data.grant(holder)",
    lambda world, mf: (_grant(world), {"anonymous": None, "unprivileged": world.nobody, "permitted": world.alice,
                                       "other_org": world.bob}),
    _grant_snapshot,
    [
        Case("revoke own grant", "POST", _u("/data/grants/{pk}/revoke/"),
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404},
             data={"reason": "我想撤销"}),
        Case("download with the grant", "GET", lambda o: f"/data/grants/{o.pk}/resources/{o.resource_id}/download/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("download from the dataset page", "GET", lambda o: f"/data/resources/{o.resource_id}/download/",
             {"anonymous": 403, "unprivileged": 403, "permitted": 200, "other_org": 403}),
        Case("api download", "GET", lambda o: f"/api/v1/data/resources/{o.resource_id}/download",
             {"anonymous": 403, "unprivileged": 403, "permitted": 200, "other_org": 403}, api=True),
        Case("api download naming the grant", "GET",
             lambda o: f"/api/v1/data/resources/{o.resource_id}/download?grant={o.pk}",
             {"anonymous": 404, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))
