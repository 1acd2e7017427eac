"""Forms for the recommended catalog: the nomination, and the public list's filters."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.choices import District

from .models import Category


class NominationForm(forms.Form):
    justification = forms.CharField(
        label=_("推荐理由"), max_length=2000,
        help_text=_("简要说明该模型的应用成效、创新性与可推广性（10–2000 字）。"),
        widget=forms.Textarea(attrs={"rows": 6}))

    def clean_justification(self) -> str:
        text = self.cleaned_data["justification"].strip()
        if len(text) < 10:
            raise forms.ValidationError(_("推荐理由至少需要 10 个字。"))
        return text


class CatalogFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=200)
    category = forms.ChoiceField(label=_("算法类别"), required=False, choices=[("", _("全部"))] + Category.choices)
    district = forms.ChoiceField(label=_("所在区"), required=False, choices=[("", _("全部"))] + District.choices)
    status = forms.ChoiceField(label=_("目录状态"), required=False, choices=[
        ("listed", _("在目录中")), ("suspended", _("已暂停（证书已撤销）")), ("ended", _("已撤回或移出")),
        ("all", _("全部（含已退出目录的）"))])
