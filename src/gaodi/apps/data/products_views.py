"""Pages of data products: the public list (filters, search, exports) and product cards; the publisher's
create, edit, publish/withdraw and listing-status pages. Every write calls one action in products_actions;
every read starts from the permission policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core.exports import FORMATS, export
from gaodi.apps.core.models import Organization
from gaodi.apps.core.pagination import CappedPaginator
from gaodi.apps.core.permissions import can, visible
from gaodi.apps.core.viewutils import error_messages, errors_to_form

from . import products_actions as actions
from .policies import publisher_ids
from .products_forms import ListingForm, ProductForm, filter_products
from .products_models import DataProduct, ProductState
from .products_workflows import LISTING, LISTING_TRANSITIONS, PRODUCT, PRODUCT_TRANSITIONS

PRODUCT_COLUMNS = [
    ("id", "编号 ID"), ("title", "产品名称 Title"), ("title_en", "英文名称 English title"),
    ("publisher", "发布机构 Publisher"), ("datasets", "来源数据集 Source datasets"),
    ("scenario", "应用场景 Scenario"), ("price_model", "计价方式 Price model"), ("price", "价格 Price"),
    ("price_amount", "价格（元）Amount (CNY)"), ("price_unit", "计价单位 Unit"),
    ("quality_score", "质量得分 Quality score"), ("quality_source", "质量报告依据 Quality report of"),
    ("listing_status", "交易所挂牌状态 Exchange listing status"), ("listing_code", "挂牌编号 Listing code"),
    ("listed_on", "挂牌日期 Listed on"), ("delisted_on", "摘牌日期 Delisted on"),
    ("published_at", "发布时间 Published"), ("url", "产品页面 Page"),
]


def _queryset():
    return (DataProduct.objects.select_related("publisher", "quality_version__resource__dataset")
            .prefetch_related("datasets"))


def _visible_or_404(user, pk: int) -> DataProduct:
    try:
        return visible(user, DataProduct, _queryset()).get(pk=pk)
    except (DataProduct.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(str(DataProduct._meta.verbose_name)) from exc


def product_row(request, p: DataProduct) -> dict:
    version = p.quality_version
    return {
        "id": p.pk, "title": p.title, "title_en": p.title_en, "publisher": p.publisher.name,
        "datasets": "；".join(d.title for d in p.datasets.all()), "scenario": p.scenario,
        "price_model": p.get_price_model_display(), "price": p.price_text,
        "price_amount": str(p.price_amount) if p.price_amount is not None else "",
        "price_unit": p.get_price_unit_display() if p.price_unit else "",
        "quality_score": p.quality_score,
        "quality_source": f"{version.resource.dataset.title} / {version.resource.name} v{version.number}" if version else "",
        "listing_status": p.get_listing_status_display(), "listing_code": p.listing_code,
        "listed_on": p.listed_on.isoformat() if p.listed_on else "",
        "delisted_on": p.delisted_on.isoformat() if p.delisted_on else "",
        "published_at": timezone.localtime(p.published_at).date().isoformat() if p.published_at else "",
        "url": request.build_absolute_uri(reverse("data:product_detail", args=[p.pk])),
    }


# ---- public -------------------------------------------------------------------------------------

def product_list(request):
    qs = _queryset().filter(state=ProductState.PUBLISHED).order_by("-published_at", "-id")
    qs, form = filter_products(qs, request.GET)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in FORMATS:
            return HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
        return export((product_row(request, p) for p in qs[:50000]), PRODUCT_COLUMNS, fmt, "gaodi-data-products",
                      {"title": "数据产品 Data products",
                       "note": "挂牌状态由发布机构记录；交易在上海数据交易所进行，本平台不交易。"
                               " Listing status as recorded by the publisher; trading happens at the Shanghai"
                               " Data Exchange, not on this platform.",
                       "generated_at": timezone.now().isoformat()})
    query = request.GET.copy()
    query.pop("page", None)
    page = CappedPaginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "data/product_list.html", {
        "page": page, "form": form, "query": query.urlencode(), "can_add": can(request.user, "add", model=DataProduct)})


def _history(product: DataProduct):
    product_rows = [h for h in PRODUCT.history(product) if h.transition in PRODUCT_TRANSITIONS]
    listing_rows = [h for h in LISTING.history(product) if h.transition in LISTING_TRANSITIONS]
    return product_rows, listing_rows


def _detail(request, product: DataProduct, listing_form: ListingForm | None = None, status: int = 200):
    can_change = can(request.user, "change", product)
    product_history, listing_history = _history(product)
    version = product.quality_version
    return render(request, "data/product_detail.html", {
        "product": product, "datasets": list(product.datasets.select_related("publisher")),
        "version": version, "can_change": can_change,
        "product_transitions": [t for t in PRODUCT.available(request.user, product)] if can_change else [],
        "listing_transitions": [t for t in LISTING.available(request.user, product)] if can_change else [],
        "listing_form": listing_form or ListingForm(), "history": product_history,
        "listing_history": listing_history,
    }, status=status)


def product_detail(request, pk: int):
    return _detail(request, _visible_or_404(request.user, pk))


def product_file(request, pk: int):
    """The compliance assessment file, for whoever may see the card (a published card is public)."""
    product = _visible_or_404(request.user, pk)
    if not product.compliance_file:
        raise Http404
    ext = product.compliance_file.name.rsplit(".", 1)[-1]
    response = FileResponse(product.compliance_file.open("rb"), as_attachment=True,
                            filename=f"data-product-{product.pk}-compliance.{ext}",
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- publisher ----------------------------------------------------------------------------------

def _publisher_orgs(user):
    return Organization.objects.filter(pk__in=publisher_ids(user)).order_by("pk")


def _publisher_org(user, requested: str | None = None) -> Organization:
    """The organization a new product is published for: the one asked for (?publisher=ID), which must be
    one the user publishes for, or the user's first such organization."""
    orgs = _publisher_orgs(user)
    if requested:
        org = orgs.filter(pk=requested).first() if requested.isdigit() else None
        if org is None:
            raise Http404
        return org
    org = orgs.first()
    if org is None:
        raise PermissionDenied(_("只有数据发布机构的发布员可以发布数据产品。"))
    return org


@login_required
def products_mine(request):
    ids = publisher_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有数据发布机构的发布员可以管理数据产品。"))
    products = _queryset().filter(publisher_id__in=ids).order_by("-updated_at", "-id")
    return render(request, "data/products_mine.html", {"products": products})


def _form_page(request, form, title, product=None, status=200, publisher=None):
    choices = list(_publisher_orgs(request.user)) if product is None else []
    return render(request, "data/product_form.html",
                  {"form": form, "title": title, "product": product, "publisher": publisher,
                   "publisher_choices": choices if len(choices) > 1 else []}, status=status)


@login_required
def product_create(request):
    publisher = _publisher_org(request.user, request.GET.get("publisher") or request.POST.get("publisher"))
    form = ProductForm(request.POST or None, request.FILES or None, publisher=publisher)
    if request.method == "POST":
        if form.is_valid():
            try:
                product = actions.create_product(request.user, publisher, form)
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, _("数据产品已保存为草稿；信息完整后即可发布。"))
                return redirect("data:product_detail", pk=product.pk)
        return _form_page(request, form, _("新建数据产品"), status=400, publisher=publisher)
    return _form_page(request, form, _("新建数据产品"), publisher=publisher)


@login_required
def product_edit(request, pk: int):
    product = _visible_or_404(request.user, pk)
    if not can(request.user, "change", product):
        raise Http404
    form = ProductForm(request.POST or None, request.FILES or None, instance=DataProduct.objects.get(pk=pk))
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.update_product(request.user, product, form)
            except ValidationError as exc:
                errors_to_form(form, exc)
            else:
                messages.success(request, _("数据产品信息已保存。"))
                return redirect("data:product_detail", pk=product.pk)
        return _form_page(request, form, _("修改数据产品"), product, status=400)
    return _form_page(request, form, _("修改数据产品"), product)


@login_required
@require_POST
def product_transition(request, pk: int, name: str):
    product = _visible_or_404(request.user, pk)
    if name not in PRODUCT_TRANSITIONS + LISTING_TRANSITIONS:
        raise Http404
    if not can(request.user, "change", product):
        raise Http404
    comment = (request.POST.get("comment") or "").strip()
    if name in LISTING_TRANSITIONS:
        form = ListingForm(request.POST, transition=name, product=product)
        try:
            actions.record_listing(request.user, product, name, form)
        except ValidationError as exc:
            errors_to_form(form, exc)
            return _detail(request, _visible_or_404(request.user, pk), form, status=400)
        messages.success(request, _("挂牌状态已记录。"))
        return redirect("data:product_detail", pk=pk)
    try:
        if name == "publish":
            actions.publish_product(request.user, product)
        else:
            actions.withdraw_product(request.user, product, comment[:2000])
    except ValidationError as exc:
        messages.error(request, "；".join(error_messages(exc)))
    else:
        messages.success(request, _("数据产品已发布。") if name == "publish" else _("数据产品已下架。"))
    return redirect("data:product_detail", pk=pk)
