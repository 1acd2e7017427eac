"""Forms for filings and batches. The same forms validate web posts, API payloads and CLI input."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import OrgKind
from gaodi.apps.core.models import Organization
from gaodi.apps.core.uploads import check_document

from .models import AlgorithmFiling, Category

CONTENT_FIELDS = ("name", "category", "role", "scenarios", "domain", "principle", "mechanism", "purpose",
                  "products", "public_text")
# Minimum length of the descriptive texts at submission: a filing must actually explain the algorithm.
MIN_TEXT = {"scenarios": 10, "principle": 20, "mechanism": 20, "purpose": 10, "products": 2, "public_text": 30}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Strip control characters that have no place in a filing (they break exports and diffs)."""
    return _CONTROL.sub("", value or "").strip()


class FilingForm(forms.ModelForm):
    """Drafts may be incomplete; `validate_for_submission` enforces completeness at submit time."""

    department = forms.ModelChoiceField(
        queryset=Organization.objects.filter(kind=OrgKind.DEPARTMENT), label=_("受理部门"),
        help_text=_("负责审核本备案的市相关部门（条例第十五条第三款）。"),
    )
    report = forms.FileField(
        label=_("安全自评估报告"), required=False,
        help_text=_("PDF 或 Office 文档，不超过 %(mb)d MB。") % {"mb": settings.GAODI_MAX_REPORT_BYTES // 2**20},
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx,.odt,.ods,.odp"}),
    )

    class Meta:
        model = AlgorithmFiling
        fields = ("department", *CONTENT_FIELDS)
        widgets = {f: forms.Textarea(attrs={"rows": 4}) for f in
                   ("scenarios", "principle", "mechanism", "purpose", "products", "public_text")}

    def __init__(self, *args, draft: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.draft = draft
        if draft:
            for name in CONTENT_FIELDS:
                if name != "name":
                    self.fields[name].required = False

    def clean(self):
        data = super().clean()
        for name in CONTENT_FIELDS:
            if isinstance(data.get(name), str):
                data[name] = clean_text(data[name])
        if self.data and "name" in data and not data["name"]:
            self.add_error("name", _("请填写算法名称。"))
        upload = data.get("report")
        if upload:
            try:
                self.checked_report = check_document(upload, settings.GAODI_MAX_REPORT_BYTES, "report")
            except forms.ValidationError as exc:
                self.add_error(None, exc)
        return data


def submission_errors(filing: AlgorithmFiling) -> dict[str, list[str]]:
    """What is still missing before a filing can be submitted, per field, with how to fix it."""
    errors: dict[str, list[str]] = {}
    for name in CONTENT_FIELDS:
        value = getattr(filing, name)
        label = AlgorithmFiling._meta.get_field(name).verbose_name
        if not value:
            errors[name] = [_("请填写“%(label)s”。") % {"label": label}]
        elif name in MIN_TEXT and len(value) < MIN_TEXT[name]:
            errors[name] = [_("“%(label)s”至少需要 %(n)d 个字，请补充说明。") % {"label": label, "n": MIN_TEXT[name]}]
    if filing.category and filing.category not in Category.values:
        errors["category"] = [_("请选择有效的算法类别。")]
    if not filing.report:
        errors["report"] = [_("请上传安全自评估报告（PDF 或 Office 文档）。")]
    return errors


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("审核意见"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class BatchForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200)
    period_start = forms.DateField(label=_("起始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    period_end = forms.DateField(label=_("截止日期"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    corrects = forms.CharField(label=_("更正的批次编号"), required=False, max_length=40,
                               help_text=_("仅发布更正批次时填写被更正批次的编号。"))

    def __init__(self, *args, departments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if departments is not None and departments.count() > 1:
            # Only a publisher for several departments has to say which one publishes.
            self.fields["department"] = forms.ModelChoiceField(queryset=departments, label=_("发布部门"))
            self.order_fields(["department"])

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", _("截止日期不能早于起始日期。"))
        for name in ("title", "note"):
            if isinstance(data.get(name), str):
                data[name] = clean_text(data[name])
        return data
