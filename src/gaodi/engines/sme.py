"""Enterprise size classification by the published SME rules (中小企业划型标准规定, 工信部联企业〔2011〕300号).

The rules classify by industry on two facts (employees and operating revenue, or total assets for
leasing and business services). Each industry has an outer bound below which a firm is an SME at
all (either fact below it suffices) and, inside it, thresholds where *both* facts must reach the
bound for the larger class. Amounts are in units of 10,000 yuan (万元), as in the rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SizeClass(StrEnum):
    LARGE = "large"
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


@dataclass(frozen=True)
class IndustryRule:
    label: str
    measure: str  # "revenue" or "assets": the money fact this industry is measured by
    sme_employees: int | None  # outer bound: fewer employees than this -> SME
    sme_money: int | None  # outer bound: money below this -> SME
    medium: tuple[int, int]  # (employees, money) both at least -> medium
    small: tuple[int, int]  # (employees, money) both at least -> small; below either -> micro


# Thresholds of Art. 4 of the rules, per industry.
RULES: dict[str, IndustryRule] = {
    "agriculture": IndustryRule("农、林、牧、渔业", "revenue", None, 20000, (0, 500), (0, 50)),
    "industry": IndustryRule("工业", "revenue", 1000, 40000, (300, 2000), (20, 300)),
    "construction": IndustryRule("建筑业", "revenue", None, 80000, (0, 6000), (0, 300)),
    "wholesale": IndustryRule("批发业", "revenue", 200, 40000, (20, 5000), (5, 1000)),
    "retail": IndustryRule("零售业", "revenue", 300, 20000, (50, 500), (10, 100)),
    "transport": IndustryRule("交通运输业", "revenue", 1000, 30000, (300, 3000), (20, 200)),
    "warehousing": IndustryRule("仓储业", "revenue", 200, 30000, (100, 1000), (20, 100)),
    "postal": IndustryRule("邮政业", "revenue", 1000, 30000, (300, 2000), (20, 100)),
    "accommodation": IndustryRule("住宿业", "revenue", 300, 10000, (100, 2000), (10, 100)),
    "catering": IndustryRule("餐饮业", "revenue", 300, 10000, (100, 2000), (10, 100)),
    "information_transmission": IndustryRule("信息传输业", "revenue", 2000, 100000, (100, 1000), (10, 100)),
    "software_it": IndustryRule("软件和信息技术服务业", "revenue", 300, 10000, (100, 1000), (10, 50)),
    "real_estate": IndustryRule("房地产开发经营", "revenue", None, 200000, (0, 1000), (0, 100)),
    "property_management": IndustryRule("物业管理", "revenue", 1000, 5000, (300, 1000), (100, 500)),
    "leasing_business": IndustryRule("租赁和商务服务业", "assets", 300, 120000, (100, 8000), (10, 100)),
    "other": IndustryRule("其他未列明行业", "revenue", 300, None, (100, 0), (10, 0)),
}
# Industries whose only bound is money or only employees ignore the other fact.
_MONEY_ONLY = {"agriculture", "construction", "real_estate"}
_EMPLOYEES_ONLY = {"other"}


def classify(industry: str, employees: int, revenue: float, total_assets: float = 0.0) -> SizeClass:
    """Return the size class; raises ValueError for an unknown industry or negative facts."""
    rule = RULES.get(industry)
    if rule is None:
        raise ValueError(f"unknown industry {industry!r}; expected one of {', '.join(RULES)}")
    if employees < 0 or revenue < 0 or total_assets < 0:
        raise ValueError("employees, revenue and total assets must not be negative")
    money = total_assets if rule.measure == "assets" else revenue
    if not _is_sme(industry, rule, employees, money):
        return SizeClass.LARGE
    if _reaches(industry, employees, money, rule.medium):
        return SizeClass.MEDIUM
    if _reaches(industry, employees, money, rule.small):
        return SizeClass.SMALL
    return SizeClass.MICRO


def is_sme(size: SizeClass) -> bool:
    return size is not SizeClass.LARGE


def _is_sme(industry: str, rule: IndustryRule, employees: int, money: float) -> bool:
    if industry in _MONEY_ONLY:
        return rule.sme_money is not None and money < rule.sme_money
    if industry in _EMPLOYEES_ONLY:
        return rule.sme_employees is not None and employees < rule.sme_employees
    assert rule.sme_employees is not None and rule.sme_money is not None
    return employees < rule.sme_employees or money < rule.sme_money


def _reaches(industry: str, employees: int, money: float, bound: tuple[int, int]) -> bool:
    min_employees, min_money = bound
    if industry in _MONEY_ONLY:
        return money >= min_money
    if industry in _EMPLOYEES_ONLY:
        return employees >= min_employees
    return employees >= min_employees and money >= min_money
