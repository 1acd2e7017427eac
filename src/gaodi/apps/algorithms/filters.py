"""Public filing list: filters and search, shared by the page, its exports and the API."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gaodi.apps.core import search
from gaodi.apps.core.choices import District

from .models import Category, State

PUBLIC_LIST_STATES = [State.APPROVED, State.DEREGISTRATION_REQUESTED, State.DEREGISTERED]


class FilingFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=200)
    category = forms.ChoiceField(label=_("算法类别"), required=False, choices=[("", _("全部"))] + Category.choices)
    district = forms.ChoiceField(label=_("所在区"), required=False, choices=[("", _("全部"))] + District.choices)
    year = forms.IntegerField(label=_("备案年份"), required=False, min_value=2000, max_value=2100)
    state = forms.ChoiceField(label=_("状态"), required=False,
                              choices=[("", _("全部"))] + [(s.value, s.label) for s in PUBLIC_LIST_STATES])


def filter_public(qs, params) -> tuple[object, FilingFilterForm]:
    """Apply valid filters; invalid values are reported on the form and ignored, never a 500."""
    form = FilingFilterForm(params)
    qs = qs.filter(state__in=PUBLIC_LIST_STATES)
    if not form.is_valid():
        return qs.none(), form
    data = form.cleaned_data
    if data["category"]:
        qs = qs.filter(category=data["category"])
    if data["district"]:
        qs = qs.filter(district=data["district"])
    if data["year"]:
        qs = qs.filter(approved_at__year=data["year"])
    if data["state"]:
        qs = qs.filter(state=data["state"])
    if data["q"]:
        qs = search.filter_queryset(qs, "filing", data["q"])
    return qs, form
