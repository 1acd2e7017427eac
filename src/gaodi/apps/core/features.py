"""Features register the articles they implement; each article's page lists them (DESIGN: legal basis)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Feature:
    key: str
    name: str
    articles: tuple[int, ...]
    url_name: str = ""
    description: str = ""


_REGISTRY: dict[str, Feature] = {}


def register(key: str, name, articles: tuple[int, ...], url_name: str = "", description="") -> Feature:
    feature = Feature(key, name, tuple(articles), url_name, description)
    _REGISTRY[key] = feature
    return feature


def for_article(number: int) -> list[Feature]:
    return [f for f in _REGISTRY.values() if number in f.articles]


def all_features() -> list[Feature]:
    return list(_REGISTRY.values())


register("core.regulation", _("条例全文与条文对照"), (1, 2, 3, 4, 69, 70), "core:regulation",
         _("条例的章、条全文，以及每条对应的平台功能。"))
register("core.organizations", _("部门、区、委员会与协会的机构与角色"), (5, 6, 7, 8), "",
         _("按条例第五至八条设置的机构类型、部门职责与审核角色。"))
register("core.elder_mode", _("长者模式与无障碍"), (68,), "core:home",
         _("大字号、高对比度的长者模式与符合 WCAG 2.1 AA 的页面。"))
