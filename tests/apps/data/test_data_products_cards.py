"""Data products (Art. 17): product cards built from datasets, with scenario, compliance assessment,
quality report and price model; the listing status at the Shanghai Data Exchange as recorded by the
publisher; public list with filters, search (Chinese and English) and exports; the API."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import load_workbook

from gaodi.apps.core.models import AuditEntry, PersonalAccessToken, WorkflowHistory
from gaodi.apps.data import actions
from gaodi.apps.data import products_actions as pactions
from gaodi.apps.data.forms import ApplicationForm, DatasetForm, ResourceForm
from gaodi.apps.data.models import DataProduct
from gaodi.apps.data.products_forms import ListingForm, ProductForm
from tests.factories import minimal_pdf

CSV = "编号,城市,数值\n1,上海,3.5\n2,北京,4.0\n3,上海,2.5\n".encode()


def dataset(world, publisher=None, user=None, open_type="unconditional", **kw):
    data = {"title": "城市交通流量数据", "title_en": "Urban traffic flow", "description": "路口流量统计。",
            "theme": "transport", "licence": "CC BY 4.0", "update_frequency": "monthly", "spatial": "上海市",
            "open_type": open_type, "security_level": "general", "conditions": "仅限科研使用。", **kw}
    return actions.create_dataset(user or world.paul, publisher or world.cyber, DatasetForm(data=data))


def checked_version(world, ds, content=CSV):
    form = ResourceForm(data={"name": "流量表", "kind": "file"}, files={"file": SimpleUploadedFile("t.csv", content)})
    resource = actions.add_resource(world.paul, ds, form)
    return actions.run_quality_report(resource.latest.pk)


def card(ds=None, version=None, **kw):
    data = {"title": "交通拥堵指数产品", "title_en": "Congestion index", "summary": "按路段计算的拥堵指数。",
            "datasets": [ds.pk] if ds else [], "quality_version": version.pk if version else "",
            "scenario": "导航与城市规划", "compliance_assessment": "数据来源合法，不含个人信息。",
            "price_model": "subscription", "price_amount": "1200", "price_unit": "per_month", **kw}
    return data


def make_product(world, published=True, **kw):
    ds = dataset(world)
    version = checked_version(world, ds)
    product = pactions.create_product(world.paul, world.cyber,
                                      ProductForm(data=card(ds, version, **kw), publisher=world.cyber))
    if published:
        product = pactions.publish_product(world.paul, product)
    return product


def test_draft_is_private_and_publishing_needs_a_complete_card_with_a_finished_quality_report(client, world):
    ds = dataset(world)
    form = ResourceForm(data={"name": "流量表", "kind": "file"}, files={"file": SimpleUploadedFile("t.csv", CSV)})
    version = actions.add_resource(world.paul, ds, form).latest  # quality report still pending
    product = pactions.create_product(world.paul, world.cyber, ProductForm(
        data=card(None, None, scenario="", compliance_assessment=""), publisher=world.cyber))
    assert product.state == "draft"
    assert client.get(f"/data/products/{product.pk}/").status_code == 404  # a draft does not exist for the public
    with pytest.raises(ValidationError) as exc:
        pactions.publish_product(world.paul, product)
    assert set(exc.value.message_dict) == {"datasets", "scenario", "compliance_assessment", "quality_version"}
    product = pactions.update_product(world.paul, product, ProductForm(
        data=card(ds, version), instance=DataProduct.objects.get(pk=product.pk)))
    with pytest.raises(ValidationError, match="质量检测尚未完成"):
        pactions.publish_product(world.paul, product)
    actions.run_quality_report(version.pk)
    product = pactions.publish_product(world.paul, product)
    assert product.state == "published" and product.published_at is not None
    page = client.get(f"/data/products/{product.pk}/").content.decode()
    assert "交通拥堵指数产品" in page and "不进行交易" in page and "1,200.00 元/月" in page
    assert "城市交通流量数据" in page and "六个维度" in page
    assert AuditEntry.objects.filter(action="data.product.publish", object_id=str(product.pk)).exists()
    # only the publisher may publish or edit
    with pytest.raises(PermissionDenied):
        pactions.withdraw_product(world.alice, product, "不是我的")


def test_price_model_is_validated_field_by_field(world):
    ds = dataset(world)
    bad = ProductForm(data=card(ds, None, price_model="per_call", price_amount="", price_unit="per_month"),
                      publisher=world.cyber)
    assert not bad.is_valid()
    assert "price_amount" in bad.errors and "元/次" in bad.errors["price_unit"][0]
    free = ProductForm(data=card(ds, None, price_model="free", price_amount="5", price_unit=""), publisher=world.cyber)
    assert not free.is_valid() and "免费产品不填写价格" in free.errors["price_amount"][0]
    ok = ProductForm(data=card(ds, None, price_model="free", price_amount="", price_unit=""), publisher=world.cyber)
    assert ok.is_valid(), ok.errors
    product = pactions.create_product(world.paul, world.cyber, ok)
    assert product.price_amount is None and product.price_text == "免费"


def test_source_datasets_exclude_other_publishers_closed_and_ungranted_data(world):
    from gaodi.apps.core.models import Membership, Organization, User

    own = dataset(world, open_type="not_open", title="本部门不予开放数据")
    open_other = dataset(world, publisher=world.economy, user=_economy_publisher(world), title="经信委开放数据")
    closed_other = dataset(world, publisher=world.economy, user=world.economy_pub, open_type="not_open",
                           title="经信委不开放数据")
    conditional = dataset(world, publisher=world.economy, user=world.economy_pub, open_type="conditional",
                          title="经信委有条件数据")
    # an enterprise developing data products: its admin publishes products and applies for data
    provider = Organization.objects.create(code="E0009", name="数据服务公司", kind="enterprise", employees=20,
                                           annual_revenue=500, industry="software_it")
    dan = User.objects.create_user(username="dan", password="x")
    Membership.objects.create(user=dan, organization=provider, role="admin")
    choices = set(ProductForm(publisher=provider).fields["datasets"].queryset)
    assert choices == {open_other}
    assert set(ProductForm(publisher=world.cyber).fields["datasets"].queryset) == {own, open_other}
    # a conditional dataset becomes a source once the provider holds an active grant for it
    application = actions.apply_for_access(dan, conditional, ApplicationForm(
        data={"organization": provider.pk, "purpose": "开发交通数据产品，用于导航服务。", "scenario": "导航",
              "security_measures": "专网存储", "term_days": 30}, enterprises=Organization.objects.filter(pk=provider.pk)))
    actions.decide_application(world.ron, application, "approve")
    assert conditional in set(ProductForm(publisher=provider).fields["datasets"].queryset)
    form = ProductForm(data=card(closed_other, None), publisher=provider)
    assert not form.is_valid() and "datasets" in form.errors


def _economy_publisher(world):
    from gaodi.apps.core.models import Membership, User

    world.economy_pub = User.objects.create_user(username="eve", password="x")
    Membership.objects.create(user=world.economy_pub, organization=world.economy, role="publisher")
    return world.economy_pub


def test_public_list_search_in_chinese_and_english_filters_and_exports(client, world):
    make_product(world)
    other = make_product(world, title="医疗影像标注服务", title_en="Medical image labels", summary="影像标注。",
                         price_model="per_call", price_amount="0.5", price_unit="per_call")
    make_product(world, published=False, title="未发布的草稿产品")
    page = client.get("/data/products/").content.decode()
    assert "交通拥堵指数产品" in page and "医疗影像标注服务" in page and "未发布的草稿产品" not in page
    assert "医疗影像" not in client.get("/data/products/", {"q": "拥堵"}).content.decode()
    english = client.get("/data/products/", {"q": "congestion"}).content.decode()
    assert "交通拥堵指数产品" in english and "医疗影像标注服务" not in english
    by_label = client.get("/data/products/", {"q": "订阅"}).content.decode()  # the price model's label is indexed
    assert "交通拥堵指数产品" in by_label and "医疗影像标注服务" not in by_label
    filtered = client.get("/data/products/", {"price_model": "per_call"}).content.decode()
    assert "医疗影像标注服务" in filtered and "交通拥堵指数产品" not in filtered
    assert client.get("/data/products/", {"listing_status": "listed"}).content.decode().count("<tr>") == 2  # head + empty
    assert client.get("/data/products/", {"price_model": "barter"}).status_code == 200  # invalid filter: no 500
    body = json.loads(client.get("/data/products/", {"format": "json"}).content)
    assert {i["title"] for i in body["items"]} == {"交通拥堵指数产品", "医疗影像标注服务"}
    assert "不交易" in body["note"]
    row = next(i for i in body["items"] if i["id"] == other.pk)
    assert row["price"] == "0.50 元/次" and row["listing_status"] == "未提交挂牌" and row["quality_score"] > 0
    csv = client.get("/data/products/", {"format": "csv"}).content.decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("编号 ID,产品名称 Title") and "医疗影像标注服务" in csv
    workbook = load_workbook(io.BytesIO(client.get("/data/products/", {"format": "xlsx"}).content))
    assert workbook.active.max_row == 3
    assert client.get("/data/products/", {"format": "exe"}).status_code == 400
    api = client.get("/api/v1/data/products", {"q": "Medical"}).json()
    assert api["count"] == 1 and api["items"][0]["id"] == other.pk and api["items"][0]["price_unit"] == "per_call"


def test_listing_status_is_recorded_with_dates_codes_and_history(client, world):
    product = make_product(world)
    today = timezone.localdate()

    def step(name, **data):
        return pactions.record_listing(world.paul, product, name, ListingForm(data=data))

    with pytest.raises(ValidationError) as exc:
        step("listing_list", on=today.isoformat(), code="SDE-2024-001")  # not submitted yet
    assert "transition" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        step("listing_submit", on=(today + timedelta(days=3)).isoformat())
    assert "不能晚于今天" in exc.value.message_dict["on"][0]
    step("listing_submit", on=(today - timedelta(days=10)).isoformat())
    with pytest.raises(ValidationError) as exc:
        step("listing_list", on=today.isoformat(), code="")
    assert "挂牌编号" in exc.value.message_dict["code"][0]
    with pytest.raises(ValidationError) as exc:
        step("listing_list", on=(today - timedelta(days=20)).isoformat(), code="SDE-2024-001")
    assert "不能早于提交" in exc.value.message_dict["on"][0]
    product = step("listing_list", on=(today - timedelta(days=2)).isoformat(), code="SDE-2024-001")
    assert (product.listing_status, product.listing_code, product.listed_on) == (
        "listed", "SDE-2024-001", today - timedelta(days=2))
    assert "SDE-2024-001" in client.get("/data/products/", {"q": "SDE-2024-001"}).content.decode()
    with pytest.raises(ValidationError) as exc:
        step("listing_delist", on=today.isoformat())
    assert "comment" in exc.value.message_dict  # delisting needs a reason
    product = step("listing_delist", on=today.isoformat(), comment="交易所终止挂牌")
    assert product.listing_status == "delisted" and product.delisted_on == today
    page = client.get(f"/data/products/{product.pk}/").content.decode()
    assert "已摘牌" in page and "交易所终止挂牌" in page and "记录已挂牌" in page
    rows = WorkflowHistory.objects.filter(object_id=product.pk, transition__startswith="listing_")
    assert [r.to_state for r in rows] == ["submitted", "listed", "delisted"]
    other = make_product(world)
    pactions.record_listing(world.paul, other, "listing_submit", ListingForm(data={"on": today.isoformat()}))
    with pytest.raises(ValidationError, match="已被另一数据产品使用"):
        pactions.record_listing(world.paul, other, "listing_list",
                                ListingForm(data={"on": today.isoformat(), "code": "SDE-2024-001"}))
    with pytest.raises(PermissionDenied):
        pactions.record_listing(world.rita, other, "listing_return", ListingForm(data={"comment": "不是发布员"}))


def test_web_pages_create_edit_publish_and_listing_form_errors(client, world, settings):
    ds = dataset(world)
    version = checked_version(world, ds)
    client.force_login(world.paul)
    assert client.get("/data/products/new/").status_code == 200
    fake = SimpleUploadedFile("assessment.pdf", b"MZ\x90\x00 not a pdf")
    response = client.post("/data/products/new/", {**card(ds, version), "compliance_file": fake})
    assert response.status_code == 400 and "不符" in response.content.decode()
    assert DataProduct.objects.count() == 0  # nothing saved from the refused form
    response = client.post("/data/products/new/", {**card(ds, version),
                                                   "compliance_file": SimpleUploadedFile("评估.pdf", minimal_pdf())})
    product = DataProduct.objects.get()
    assert response.status_code == 302 and product.compliance_file_name == "评估.pdf"
    assert product.compliance_file_size == len(minimal_pdf())
    client.post(f"/data/products/{product.pk}/publish/")
    product.refresh_from_db()
    assert product.state == "published"
    # editing a published card may not break it: the whole edit is refused, nothing saved
    response = client.post(f"/data/products/{product.pk}/edit/", {**card(ds, version, scenario="", title="改名")})
    assert response.status_code == 400 and "请填写应用场景" in response.content.decode()
    product.refresh_from_db()
    assert product.title == "交通拥堵指数产品" and product.scenario
    response = client.post(f"/data/products/{product.pk}/listing_list/", {"on": "", "code": ""})
    assert response.status_code == 400  # not submitted yet: the page shows why
    response = client.post(f"/data/products/{product.pk}/listing_submit/", {"on": ""})
    assert response.status_code == 400 and "请填写日期" in response.content.decode()
    client.logout()
    download = client.get(f"/data/products/{product.pk}/compliance-file/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == minimal_pdf()
    assert client.get(f"/data/products/{product.pk}/edit/").status_code == 302  # login
    client.force_login(world.paul)
    client.post(f"/data/products/{product.pk}/withdraw/", {"comment": ""})
    product.refresh_from_db()
    assert product.state == "published"  # withdrawal needs a reason
    client.post(f"/data/products/{product.pk}/withdraw/", {"comment": "数据源更新，暂停对外提供"})
    product.refresh_from_db()
    assert product.state == "withdrawn"
    assert "交通拥堵指数产品" in client.get("/data/products/mine/").content.decode()
    client.logout()
    assert client.get(f"/data/products/{product.pk}/").status_code == 404
    assert "交通拥堵指数产品" not in client.get("/data/products/").content.decode()
    # the dataset page links the products built from it (only published ones)
    assert "基于本数据集的数据产品" not in client.get(f"/data/datasets/{ds.pk}/").content.decode()


def test_api_create_update_publish_and_record_listing(client, world):
    ds = dataset(world)
    version = checked_version(world, ds)
    _token, key = PersonalAccessToken.generate(world.paul, "t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = {"title": "接口产品", "summary": "通过接口提供。", "datasets": [ds.pk], "quality_version": version.pk,
            "scenario": "城市治理", "compliance_assessment": "已评估。", "price_model": "per_call",
            "price_amount": "2", "price_unit": "per_thousand_calls"}
    bad = client.post("/api/v1/data/products", {**body, "price_unit": "per_year"}, content_type="application/json",
                      **auth)
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "price_unit"
    created = client.post("/api/v1/data/products", body, content_type="application/json", **auth)
    assert created.status_code == 201, created.content
    pid = created.json()["id"]
    assert created.json()["state"] == "draft" and client.get(f"/api/v1/data/products/{pid}").status_code == 404
    updated = client.put(f"/api/v1/data/products/{pid}", {**body, "title": "接口产品（新版）"},
                         content_type="application/json", **auth)
    assert updated.status_code == 200 and updated.json()["title"] == "接口产品（新版）"
    published = client.post(f"/api/v1/data/products/{pid}/transitions/publish", {}, content_type="application/json",
                            **auth)
    assert published.json()["state"] == "published" and published.json()["quality_score"] > 0
    today = timezone.localdate().isoformat()
    client.post(f"/api/v1/data/products/{pid}/transitions/listing_submit", {"on": today},
                content_type="application/json", **auth)
    listed = client.post(f"/api/v1/data/products/{pid}/transitions/listing_list", {"on": today, "code": "SDE-X-1"},
                         content_type="application/json", **auth)
    assert listed.status_code == 200 and listed.json()["listing_status"] == "listed"
    public = client.get(f"/api/v1/data/products/{pid}").json()
    assert public["listing_code"] == "SDE-X-1" and public["price_amount"] == "2.00"
    _t, other_key = PersonalAccessToken.generate(world.alice, "t")
    refused = client.put(f"/api/v1/data/products/{pid}", body, content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert refused.status_code == 403
    assert client.post("/api/v1/data/products", body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {other_key}").status_code == 403


def test_a_publisher_of_two_organizations_chooses_which_one_publishes(client, world):
    from gaodi.apps.core.models import Membership

    Membership.objects.create(user=world.paul, organization=world.economy, role="publisher")
    client.force_login(world.paul)
    page = client.get("/data/products/new/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="publisher"' in html and world.economy.name in html  # a choice, first org preselected
    page = client.get(f"/data/products/new/?publisher={world.economy.pk}")
    assert f'<input type="hidden" name="publisher" value="{world.economy.pk}">' in page.content.decode()
    response = client.post("/data/products/new/", {**card(), "publisher": world.economy.pk, "datasets": []})
    assert response.status_code == 302
    assert DataProduct.objects.get().publisher == world.economy
    # An organization the user does not publish for is not a choice, whatever the URL says.
    assert client.get(f"/data/products/new/?publisher={world.ent_a.pk}").status_code == 404
    assert client.post("/data/products/new/", {**card(), "publisher": world.ent_a.pk}).status_code == 404
    assert DataProduct.objects.count() == 1


def test_the_database_holds_one_product_per_listing_code(world):
    from django.db import IntegrityError, transaction

    first, second = make_product(world, published=False), make_product(world, published=False)
    assert first.listing_code == second.listing_code == ""  # codes are empty until listed: no clash
    DataProduct.objects.filter(pk=first.pk).update(listing_code="SDE-2026-007")
    with pytest.raises(IntegrityError), transaction.atomic():
        DataProduct.objects.filter(pk=second.pk).update(listing_code="SDE-2026-007")
