"""Business operations on data products: one function each, one transaction each, each writing its audit
entry. Views, the API and the demo loader call these. Nothing here trades: the listing status is what the
publisher records about the Shanghai Data Exchange."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gaodi.apps.core import audit, search
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import require

from .policies import publisher_ids
from .products_forms import SEARCH_DOC, ListingForm, ProductForm, publish_errors
from .products_models import DataProduct, ListingStatus, PriceModel
from .products_workflows import LISTING, LISTING_TRANSITIONS, PRODUCT


def _validated(form) -> dict:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.cleaned_data


def index_product(product: DataProduct) -> None:
    labels = []
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            labels += [str(PriceModel(product.price_model).label), str(ListingStatus(product.listing_status).label)]
    datasets = [t for d in product.datasets.all() for t in (d.title, d.title_en)]
    body = " ".join([product.title, product.title_en, product.summary, product.scenario, product.listing_code,
                     product.publisher.name, product.publisher.name_en, *datasets, *labels])
    search.index(SEARCH_DOC, product.pk, body)


def _save_file(product: DataProduct, form: ProductForm) -> dict | None:
    upload = form.cleaned_data.get("compliance_file")
    if not upload or form.checked_file is None:
        return None
    checked = form.checked_file
    product.compliance_file.save(f"product-{product.pk}{checked.extension}", upload, save=False)
    product.compliance_file_name = (upload.name or "")[-200:]
    product.compliance_file_sha256 = checked.sha256
    product.compliance_file_size = checked.size
    product.save(update_fields=["compliance_file", "compliance_file_name", "compliance_file_sha256",
                                "compliance_file_size", "updated_at"])
    return {"sha256": checked.sha256, "size": checked.size}


def create_product(user, publisher: Organization, form: ProductForm) -> DataProduct:
    """Save a product card as a draft of the publisher's organization."""
    if publisher.pk not in publisher_ids(user):
        raise PermissionDenied(_("您不是该机构的发布员，不能以其名义发布数据产品。"))
    data = _validated(form)
    with transaction.atomic():
        product = DataProduct.objects.create(
            publisher=publisher, created_by=user, title=data["title"], title_en=data.get("title_en") or "",
            summary=data["summary"], quality_version=data.get("quality_version"), scenario=data.get("scenario") or "",
            compliance_assessment=data.get("compliance_assessment") or "", price_model=data["price_model"],
            price_amount=data.get("price_amount"), price_unit=data.get("price_unit") or "")
        product.datasets.set(data.get("datasets") or [])
        file_info = _save_file(product, form)
        index_product(product)
        audit.record(user, "data.product.create", product, {"title": product.title, "file": file_info})
    return product


_CARD_FIELDS = ("title", "title_en", "summary", "quality_version", "scenario", "compliance_assessment",
                "price_model", "price_amount", "price_unit")
_TEXT_FIELDS = ("title_en", "scenario", "compliance_assessment", "price_unit")


def update_product(user, product: DataProduct, form: ProductForm) -> DataProduct:
    """Change the card. A published card must stay complete: an edit that would break it is refused with
    the missing fields named, and nothing of it is saved."""
    require(user, "change", product)
    data = _validated(form)
    with transaction.atomic():
        product = DataProduct.objects.select_for_update().get(pk=product.pk)
        old_datasets = set(product.datasets.values_list("pk", flat=True))
        changed = []
        for f in _CARD_FIELDS:
            value = data.get(f)
            if value is None and f in _TEXT_FIELDS:
                value = ""
            if getattr(product, f) != value:
                changed.append(f)
            setattr(product, f, value)
        product.save()
        product.datasets.set(data.get("datasets") or [])
        new_datasets = set(product.datasets.values_list("pk", flat=True))
        if new_datasets != old_datasets:
            changed.append("datasets")
        if product.state == "published":
            errors = publish_errors(product)
            if errors:
                raise ValidationError(errors)  # leaves the atomic block: the whole edit is rolled back
        file_info = _save_file(product, form)
        if file_info:
            changed.append("compliance_file")
        index_product(product)
        audit.record(user, "data.product.update", product,
                     {"fields": changed, "datasets": sorted(new_datasets), "file": file_info})
    return product


def publish_product(user, product: DataProduct) -> DataProduct:
    """Make the card public; refused with field-named errors while it is incomplete."""
    with transaction.atomic():
        product = DataProduct.objects.select_for_update().get(pk=product.pk)
        require(user, "publish", product)
        errors = publish_errors(product)
        if errors:
            raise ValidationError(errors)
        PRODUCT.apply(product, "publish", user)
        product.published_at = product.published_at or timezone.now()
        product.save(update_fields=["published_at"])
        audit.record(user, "data.product.publish", product, {"quality_version": product.quality_version_id,
                                                            "quality_score": product.quality_score})
    return product


def withdraw_product(user, product: DataProduct, comment: str) -> DataProduct:
    """Take the card off the public list (it keeps its history; it can be published again)."""
    with transaction.atomic():
        product = DataProduct.objects.select_for_update().get(pk=product.pk)
        PRODUCT.apply(product, "withdraw", user, comment)
        audit.record(user, "data.product.withdraw", product, {"comment": comment})
    return product


def record_listing(user, product: DataProduct, name: str, form: ListingForm) -> DataProduct:
    """Record one step of the listing at the Shanghai Data Exchange (submitted, listed, returned, delisted).
    The platform does not list or trade anything; it keeps what the publisher states, with its history."""
    if name not in LISTING_TRANSITIONS:
        raise ValidationError({"transition": _("未知操作：%(name)s") % {"name": name}})
    try:
        return _record_listing(user, product, name, form)
    except IntegrityError:  # another product took the same code between our check and our write
        raise ValidationError({"code": _("挂牌编号 %(c)s 已被另一数据产品使用，请核对。")
                               % {"c": form.data.get("code", "")}}) from None


def _record_listing(user, product: DataProduct, name: str, form: ListingForm) -> DataProduct:
    with transaction.atomic():
        product = DataProduct.objects.select_for_update().get(pk=product.pk)
        require(user, "list", product)
        form.transition, form.product = name, product
        data = _validated(form)
        on, code, comment = data.get("on"), data.get("code") or "", data.get("comment") or ""
        if name == "listing_list" and DataProduct.objects.filter(listing_code=code).exclude(pk=product.pk).exists():
            raise ValidationError({"code": _("挂牌编号 %(c)s 已被另一数据产品使用，请核对。") % {"c": code}})
        note = " · ".join(x for x in (on.isoformat() if on else "", code, comment) if x)
        LISTING.apply(product, name, user, note)
        if name == "listing_submit":
            product.listing_submitted_on, product.listing_code = on, ""
            product.listed_on = product.delisted_on = None
        elif name == "listing_list":
            product.listing_code, product.listed_on = code, on
        elif name == "listing_return":
            product.listing_submitted_on = None
        elif name == "listing_delist":
            product.delisted_on = on
        product.save()
        index_product(product)
        audit.record(user, f"data.product.{name}", product,
                     {"on": on, "code": code, "comment": comment, "status": product.listing_status})
    return product
