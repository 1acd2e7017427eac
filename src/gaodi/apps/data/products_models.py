"""Data products for trading (数据产品, Art. 17): a product card built from catalog datasets, with its
application scenario, compliance assessment, quality report and price model, and the status of its
listing at the Shanghai Data Exchange as the publisher records it.

The platform does not trade: the listing, the contract and the payment happen at the exchange. The card
only records what the publisher states and links it to the datasets and quality reports kept here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.models import Organization


class ProductState(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    WITHDRAWN = "withdrawn", _("已下架")


class PriceModel(models.TextChoices):
    FREE = "free", _("免费")
    ONE_OFF = "one_off", _("一次性买断")
    SUBSCRIPTION = "subscription", _("订阅")
    PER_CALL = "per_call", _("按次计费")


class PriceUnit(models.TextChoices):
    PER_COPY = "per_copy", _("元/份")
    PER_MONTH = "per_month", _("元/月")
    PER_QUARTER = "per_quarter", _("元/季度")
    PER_YEAR = "per_year", _("元/年")
    PER_CALL = "per_call", _("元/次")
    PER_THOUSAND_CALLS = "per_thousand_calls", _("元/千次")


# Which units fit which price model (free has none).
PRICE_UNITS: dict[str, tuple[str, ...]] = {
    PriceModel.FREE: (),
    PriceModel.ONE_OFF: (PriceUnit.PER_COPY,),
    PriceModel.SUBSCRIPTION: (PriceUnit.PER_MONTH, PriceUnit.PER_QUARTER, PriceUnit.PER_YEAR),
    PriceModel.PER_CALL: (PriceUnit.PER_CALL, PriceUnit.PER_THOUSAND_CALLS),
}


class ListingStatus(models.TextChoices):
    """Status of the product at the Shanghai Data Exchange (上海数据交易所), as the publisher records it."""

    NOT_SUBMITTED = "not_submitted", _("未提交挂牌")
    SUBMITTED = "submitted", _("已提交挂牌申请")
    LISTED = "listed", _("已挂牌")
    DELISTED = "delisted", _("已摘牌")


class DataProduct(models.Model):
    """A data product card (数据产品). Public once published; the listing itself is at the exchange."""

    publisher = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="data_products",
                                  verbose_name=_("发布机构"))
    title = models.CharField(_("产品名称"), max_length=200)
    title_en = models.CharField(_("英文名称"), max_length=200, blank=True)
    summary = models.TextField(_("产品简介"), max_length=4000)
    # Drafts may be saved half-done; completeness is checked when the product is published.
    datasets = models.ManyToManyField("data.Dataset", related_name="products", blank=True,
                                      verbose_name=_("来源数据集"))
    quality_version = models.ForeignKey("data.ResourceVersion", on_delete=models.SET_NULL, null=True, blank=True,
                                        related_name="+", verbose_name=_("质量报告所依据的数据版本"))
    scenario = models.TextField(_("应用场景"), max_length=4000, blank=True)
    compliance_assessment = models.TextField(_("合规评估"), max_length=8000, blank=True)
    compliance_file = models.FileField(_("合规评估报告文件"), upload_to="data/products/%Y/%m/", max_length=200,
                                       blank=True)
    compliance_file_name = models.CharField(_("原文件名"), max_length=200, blank=True)
    compliance_file_sha256 = models.CharField(max_length=64, blank=True)
    compliance_file_size = models.PositiveBigIntegerField(null=True, blank=True)
    price_model = models.CharField(_("计价方式"), max_length=16, choices=PriceModel.choices, default=PriceModel.FREE)
    price_amount = models.DecimalField(_("价格（元）"), max_digits=14, decimal_places=2, null=True, blank=True)
    price_unit = models.CharField(_("计价单位"), max_length=24, choices=PriceUnit.choices, blank=True)
    state = models.CharField(_("状态"), max_length=16, choices=ProductState.choices, default=ProductState.DRAFT,
                             db_index=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    listing_status = models.CharField(_("交易所挂牌状态"), max_length=16, choices=ListingStatus.choices,
                                      default=ListingStatus.NOT_SUBMITTED, db_index=True)
    listing_submitted_on = models.DateField(_("提交挂牌申请日期"), null=True, blank=True)
    listing_code = models.CharField(_("挂牌编号"), max_length=64, blank=True)
    listed_on = models.DateField(_("挂牌日期"), null=True, blank=True)
    delisted_on = models.DateField(_("摘牌日期"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("数据产品")
        verbose_name_plural = _("数据产品")
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["state", "listing_status"])]
        # The exchange gives each listing one code; the action checks it too, this holds under concurrency.
        constraints = [models.UniqueConstraint(fields=["listing_code"], condition=~models.Q(listing_code=""),
                                               name="data_product_listing_code_unique")]

    def __str__(self) -> str:
        return self.title

    @property
    def price_text(self) -> str:
        """“免费” or “1,200.00 元/月”, in the active language."""
        if self.price_model == PriceModel.FREE or self.price_amount is None:
            return str(PriceModel(self.price_model).label) if self.price_model == PriceModel.FREE else ""
        unit = str(PriceUnit(self.price_unit).label) if self.price_unit in PriceUnit.values else ""
        return f"{self.price_amount:,.2f} {unit}".strip()

    @property
    def quality_score(self) -> float | None:
        version = self.quality_version
        if version is None or version.quality_state != "done":
            return None
        return version.quality_score
