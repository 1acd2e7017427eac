"""API of data products at /api/v1/data/products: the same policies, forms and actions as the web pages.
The compliance assessment file is uploaded on the web page (the API carries the card's fields)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from gaodi.apps.core.api import ERRORS, PUBLIC_AUTH, PageParams, current_user, page
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import get_visible_or_404, require

from . import products_actions as actions
from .policies import publisher_ids
from .products_forms import ListingForm, ProductForm, filter_products
from .products_models import DataProduct, ProductState
from .products_workflows import LISTING_TRANSITIONS

router = Router(tags=["data products 数据产品"])


class ProductOut(Schema):
    id: int
    title: str = Field(..., description="产品名称 Title")
    title_en: str
    summary: str
    publisher: str = Field(..., description="发布机构 Publisher")
    publisher_id: int
    state: str = Field(..., description="状态 State: draft, published, withdrawn")
    dataset_ids: list[int] = Field(..., description="来源数据集 Source datasets")
    scenario: str = Field(..., description="应用场景 Application scenario")
    compliance_assessment: str = Field(..., description="合规评估 Compliance assessment")
    compliance_file: bool = Field(..., description="是否上传了合规评估报告文件 Whether a report file is attached")
    quality_version_id: int | None = Field(None, description="质量报告所依据的数据版本 Resource version of the quality report")
    quality_state: str | None = Field(None, description="该版本的质量检测状态 Quality report state of that version")
    quality_score: float | None = Field(None, description="质量得分（0-1）Quality score")
    price_model: str = Field(..., description="计价方式 Price model: free, one_off, subscription, per_call")
    price_amount: Decimal | None = Field(None, description="价格（元）Amount in CNY")
    price_unit: str = Field(..., description="计价单位 Unit: per_copy, per_month, per_quarter, per_year, per_call, "
                                             "per_thousand_calls")
    listing_status: str = Field(..., description="上海数据交易所挂牌状态（发布机构记录）Listing status at the Shanghai "
                                                 "Data Exchange as recorded by the publisher: not_submitted, "
                                                 "submitted, listed, delisted")
    listing_submitted_on: date | None
    listing_code: str
    listed_on: date | None
    delisted_on: date | None
    published_at: datetime | None


class ProductIn(Schema):
    publisher: int | None = Field(None, description="发布机构（默认：您的第一个发布机构）Publisher organization")
    title: str
    title_en: str = ""
    summary: str
    datasets: list[int] = Field(default_factory=list, description="来源数据集编号 Source dataset ids")
    quality_version: int | None = Field(None, description="数据版本编号 Resource version id")
    scenario: str = ""
    compliance_assessment: str = ""
    price_model: str = "free"
    price_amount: Decimal | None = None
    price_unit: str = ""


class ProductFilters(Schema):
    q: str = ""
    price_model: str = ""
    listing_status: str = ""
    theme: str = ""
    publisher: int | None = None


class TransitionIn(Schema):
    on: date | None = Field(None, description="日期（提交、挂牌、摘牌）Date of the step at the exchange")
    code: str = Field("", description="挂牌编号（记录已挂牌时）Listing code")
    comment: str = ""


def _product(p: DataProduct) -> dict:
    version = p.quality_version
    return {
        "id": p.pk, "title": p.title, "title_en": p.title_en, "summary": p.summary, "publisher": p.publisher.name,
        "publisher_id": p.publisher_id, "state": p.state, "dataset_ids": sorted(d.pk for d in p.datasets.all()),
        "scenario": p.scenario, "compliance_assessment": p.compliance_assessment,
        "compliance_file": bool(p.compliance_file), "quality_version_id": p.quality_version_id,
        "quality_state": version.quality_state if version else None, "quality_score": p.quality_score,
        "price_model": p.price_model, "price_amount": p.price_amount, "price_unit": p.price_unit,
        "listing_status": p.listing_status, "listing_submitted_on": p.listing_submitted_on,
        "listing_code": p.listing_code, "listed_on": p.listed_on, "delisted_on": p.delisted_on,
        "published_at": p.published_at,
    }


def _form_data(body: ProductIn) -> dict:
    data = body.dict()
    data.pop("publisher", None)
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["datasets"] = [str(i) for i in body.datasets]
    return data


def _queryset():
    return DataProduct.objects.select_related("publisher", "quality_version").prefetch_related("datasets")


@router.get("", response=dict, auth=PUBLIC_AUTH, summary="数据产品列表 Published data products")
def list_products(request, filters: ProductFilters = Query(...), params: PageParams = Query(...)):  # noqa: B008
    qs = _queryset().filter(state=ProductState.PUBLISHED).order_by("-published_at", "-id")
    qs, form = filter_products(qs, {k: v for k, v in filters.dict().items() if v not in ("", None)})
    if form.errors:
        raise ValidationError({f: list(e) for f, e in form.errors.items()})
    return page(qs, params, _product)


@router.get("/{product_id}", response={200: ProductOut, **ERRORS}, auth=PUBLIC_AUTH, summary="数据产品 Data product")
def get_product(request, product_id: int):
    return _product(get_visible_or_404(current_user(request), DataProduct, pk=product_id))


@router.post("", response={201: ProductOut, **ERRORS}, summary="新建数据产品（草稿）Create a data product (draft)")
def create_product(request, body: ProductIn):
    user = current_user(request)
    require(user, "add", model=DataProduct)
    ids = publisher_ids(user)
    publisher_id = body.publisher if body.publisher is not None else min(ids)
    if publisher_id not in ids:
        raise ValidationError({"publisher": _("您不是该机构的发布员，请选择您所在的发布机构。")})
    publisher = Organization.objects.get(pk=publisher_id)
    form = ProductForm(data=_form_data(body), publisher=publisher)
    return Status(201, _product(actions.create_product(user, publisher, form)))


@router.put("/{product_id}", response={200: ProductOut, **ERRORS}, summary="修改数据产品 Update a data product")
def update_product(request, product_id: int, body: ProductIn):
    user = current_user(request)
    product = get_visible_or_404(user, DataProduct, pk=product_id)
    require(user, "change", product)
    form = ProductForm(data=_form_data(body), instance=DataProduct.objects.get(pk=product.pk))
    actions.update_product(user, product, form)
    return _product(_queryset().get(pk=product.pk))


@router.post("/{product_id}/transitions/{name}", response={200: ProductOut, **ERRORS},
             summary="发布、下架或记录挂牌状态 Publish, withdraw, or record a listing step",
             description="publish, withdraw (comment), listing_submit (on), listing_list (on, code), "
                         "listing_return (comment), listing_delist (on, comment).")
def transition_product(request, product_id: int, name: str, body: TransitionIn):
    user = current_user(request)
    product = get_visible_or_404(user, DataProduct, pk=product_id)
    if name == "publish":
        actions.publish_product(user, product)
    elif name == "withdraw":
        actions.withdraw_product(user, product, body.comment)
    elif name in LISTING_TRANSITIONS:
        data = {"on": body.on.isoformat() if body.on else "", "code": body.code, "comment": body.comment}
        actions.record_listing(user, product, name, ListingForm(data=data))
    else:
        raise ValidationError({"transition": _("未知操作：%(name)s") % {"name": name}})
    return _product(_queryset().get(pk=product.pk))
