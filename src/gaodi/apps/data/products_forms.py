"""Validation of data products, shared by the web pages, the API and the demo loader."""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gaodi.apps.core import search
from gaodi.apps.core.models import Organization
from gaodi.apps.core.uploads import check_document

from .models import Dataset, Grant, OpenType, QualityState, ResourceVersion, Theme
from .products_models import PRICE_UNITS, DataProduct, ListingStatus, PriceModel, PriceUnit

SEARCH_DOC = "dataproduct"
LISTING_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]{1,63}$")


def source_datasets(publisher: Organization):
    """Datasets a publisher may build a product from: its own, unconditionally open ones, and conditional
    ones its organization holds an active grant for. Not-open data of others never qualifies."""
    now = timezone.now()
    granted = Grant.objects.filter(organization=publisher, revoked_at__isnull=True, starts_at__lte=now,
                                   expires_at__gt=now).values("dataset_id")
    return (Dataset.objects.filter(Q(publisher=publisher) | Q(open_type=OpenType.UNCONDITIONAL)
                                   | Q(open_type=OpenType.CONDITIONAL, pk__in=granted))
            .select_related("publisher").order_by("title", "pk"))


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ResourceVersion) -> str:
        state = obj.get_quality_state_display()
        score = f" · {obj.quality_score:.3f}" if obj.quality_score is not None else ""
        return f"{obj.resource.dataset.title} / {obj.resource.name} v{obj.number} ({state}{score})"


class ProductForm(forms.ModelForm):
    compliance_file = forms.FileField(
        label=gettext_lazy("合规评估报告文件"), required=False,
        help_text=gettext_lazy("可选。PDF 或 Office 文档，按内容检查类型；重新上传会替换原文件。"))

    class Meta:
        model = DataProduct
        fields = ["title", "title_en", "summary", "datasets", "quality_version", "scenario", "compliance_assessment",
                  "price_model", "price_amount", "price_unit"]
        widgets = {"summary": forms.Textarea(attrs={"rows": 3}), "scenario": forms.Textarea(attrs={"rows": 3}),
                   "compliance_assessment": forms.Textarea(attrs={"rows": 4}),
                   "datasets": forms.SelectMultiple(attrs={"size": 6})}
        field_classes = {"quality_version": VersionChoiceField}
        help_texts = {
            "datasets": gettext_lazy("本机构发布的数据集、无条件开放的数据集，或本机构持有有效授权的有条件开放数据集。"),
            "quality_version": gettext_lazy("产品卡片展示该数据版本的最新质量报告与得分；发布前须已完成质量检测。"),
            "compliance_assessment": gettext_lazy("数据来源合法性、个人信息处理、安全措施等评估结论。发布前须填写。"),
            "price_amount": gettext_lazy("人民币元。免费产品留空。"),
            "price_unit": gettext_lazy("一次性买断：元/份；订阅：元/月、元/季度或元/年；按次计费：元/次或元/千次。"),
        }

    def __init__(self, *args, publisher: Organization | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.checked_file = None
        publisher = publisher or (self.instance.publisher if self.instance.pk else None)
        datasets = source_datasets(publisher) if publisher is not None else Dataset.objects.none()
        self.fields["datasets"].queryset = datasets
        self.fields["quality_version"].queryset = (
            ResourceVersion.objects.filter(resource__dataset__in=datasets.values("pk"))
            .select_related("resource__dataset").order_by("resource__dataset__title", "resource_id", "-number"))
        self.fields["price_unit"].choices = [("", "—")] + list(PriceUnit.choices)

    def clean_title(self):
        value = self.cleaned_data["title"].strip()
        if len(value) < 2:
            raise ValidationError(_("请填写产品名称（至少 2 个字）。"))
        return value

    def clean_compliance_file(self):
        upload = self.cleaned_data.get("compliance_file")
        if upload:
            try:
                self.checked_file = check_document(upload, settings.GAODI_MAX_REPORT_BYTES, field="compliance_file")
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["compliance_file"]) from exc
        return upload

    def clean(self):
        data = super().clean()
        model, amount, unit = data.get("price_model"), data.get("price_amount"), data.get("price_unit") or ""
        if model == PriceModel.FREE:
            if amount not in (None, Decimal(0)):
                self.add_error("price_amount", _("免费产品不填写价格；如需收费，请选择其他计价方式。"))
            if unit:
                self.add_error("price_unit", _("免费产品不填写计价单位。"))
            data["price_amount"], data["price_unit"] = None, ""
        elif model in PRICE_UNITS:
            if amount is None or amount <= 0:
                self.add_error("price_amount", _("请填写大于 0 的价格（元）；免费产品请选择“免费”。"))
            allowed = PRICE_UNITS[model]
            if unit not in allowed:
                self.add_error("price_unit", _("“%(model)s”的计价单位应为：%(units)s。") % {
                    "model": PriceModel(model).label, "units": "、".join(str(PriceUnit(u).label) for u in allowed)})
        version, datasets = data.get("quality_version"), data.get("datasets")
        if version is not None and datasets is not None and version.resource.dataset not in list(datasets):
            self.add_error("quality_version", _("质量报告所依据的数据版本须属于所选的来源数据集。"))
        return data


def publish_errors(product: DataProduct) -> dict[str, list[str]]:
    """What a product still lacks before it may be published (drafts may be saved half-done)."""
    errors: dict[str, list[str]] = {}

    def need(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not product.datasets.exists():
        need("datasets", _("请至少选择一个来源数据集。"))
    if not product.scenario.strip():
        need("scenario", _("请填写应用场景。"))
    if not product.compliance_assessment.strip():
        need("compliance_assessment", _("请填写合规评估。"))
    version = product.quality_version
    if version is None:
        need("quality_version", _("请选择质量报告所依据的数据版本。"))
    elif version.quality_state != QualityState.DONE:
        need("quality_version", _("所选数据版本的质量检测尚未完成（%(state)s），完成后再发布。")
             % {"state": version.get_quality_state_display()})
    elif not product.datasets.filter(pk=version.resource.dataset_id).exists():
        need("quality_version", _("质量报告所依据的数据版本须属于所选的来源数据集。"))
    if product.price_model != PriceModel.FREE and (
            product.price_amount is None or product.price_unit not in PRICE_UNITS.get(product.price_model, ())):
        need("price_amount", _("请填写价格和计价单位。"))
    return errors


class ListingForm(forms.Form):
    """What the publisher records about one step at the exchange; which fields are needed depends on it."""

    on = forms.DateField(label=gettext_lazy("日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                         help_text=gettext_lazy("在交易所提交申请、挂牌或摘牌的日期。"))
    code = forms.CharField(label=gettext_lazy("挂牌编号"), max_length=64, required=False,
                           help_text=gettext_lazy("上海数据交易所公布的挂牌编号（记录“已挂牌”时必填）。"))
    comment = forms.CharField(label=gettext_lazy("说明"), max_length=2000, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, transition: str = "", product: DataProduct | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.transition, self.product = transition, product

    def clean(self):
        data = super().clean()
        on, code = data.get("on"), (data.get("code") or "").strip()
        today = timezone.localdate()
        if self.transition in ("listing_submit", "listing_list", "listing_delist"):
            if on is None and "on" not in self.errors:
                self.add_error("on", _("请填写日期。"))
            elif on is not None and on > today:
                self.add_error("on", _("日期不能晚于今天：请在交易所办理完成后再记录。"))
        if self.transition == "listing_list":
            if not code:
                self.add_error("code", _("请填写交易所公布的挂牌编号。"))
            elif not LISTING_CODE.match(code):
                self.add_error("code", _("挂牌编号只能包含字母、数字和 - _ . /，长度 2 至 64。"))
            start = self.product.listing_submitted_on if self.product else None
            if on and start and on < start:
                self.add_error("on", _("挂牌日期不能早于提交挂牌申请的日期（%(d)s）。") % {"d": start.isoformat()})
        if self.transition == "listing_delist" and on and self.product and self.product.listed_on \
                and on < self.product.listed_on:
            self.add_error("on", _("摘牌日期不能早于挂牌日期（%(d)s）。") % {"d": self.product.listed_on.isoformat()})
        if self.transition in ("listing_return", "listing_delist") and not (data.get("comment") or "").strip():
            self.add_error("comment", _("请说明原因（例如交易所的审核意见或摘牌原因）。"))
        data["code"] = code
        return data


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("搜索"), required=False, max_length=200)
    price_model = forms.ChoiceField(label=gettext_lazy("计价方式"), required=False,
                                    choices=[("", gettext_lazy("全部"))] + PriceModel.choices)
    listing_status = forms.ChoiceField(label=gettext_lazy("交易所挂牌状态"), required=False,
                                       choices=[("", gettext_lazy("全部"))] + ListingStatus.choices)
    theme = forms.ChoiceField(label=gettext_lazy("数据领域"), required=False, choices=[("", gettext_lazy("全部"))] + Theme.choices)
    publisher = forms.ModelChoiceField(label=gettext_lazy("发布机构"), required=False,
                                       queryset=Organization.objects.filter(data_products__isnull=False).distinct())


def filter_products(qs, params):
    """Apply valid filters; invalid values are reported on the form and give no rows, never a 500."""
    form = ProductFilterForm(params)
    if not form.is_valid():
        return qs.none(), form
    data = form.cleaned_data
    for name in ("price_model", "listing_status"):
        if data[name]:
            qs = qs.filter(**{name: data[name]})
    if data["theme"]:
        qs = qs.filter(datasets__theme=data["theme"]).distinct()
    if data["publisher"]:
        qs = qs.filter(publisher=data["publisher"])
    if data["q"]:
        qs = search.filter_queryset(qs, SEARCH_DOC, data["q"])
    return qs, form
