"""Grading suggestion: data security level and open type, with the reasons. A person decides.

Inputs: the sensitive-data scan, the field the dataset is declared under, and facts only a person
can tell (is the data de-identified, did the people concerned consent, is it in a catalogue of
important or core data, how many people does it cover). Output: a plain `GradingSuggestion` with a
level (一般 general / 重要 important / 核心 core), an open type (无条件开放 unconditional /
有条件开放 conditional / 不予开放 not open) and one `Reason` per rule that fired. The service stores
it beside the person's decision; nothing here decides.

The rule table (`RULES`, also in docs/data-quality.md) is applied in order, each rule raising the
level or narrowing the open type, never the reverse (the strictest outcome wins):

G1  no findings, general field                      一般, 无条件开放
G2  declared field health, autonomous driving,      at least 有条件开放 (Art. 17 of the regulation:
    finance, transport or education                 classified and graded opening in such fields)
G3  personal information found, not de-identified   不予开放 (Shanghai Data Regulation: public data
    and no consent                                  with personal information is not opened unless
                                                    de-identified or consented)
G4  personal information found, de-identified or    at least 有条件开放
    consented
G5  sensitive personal information found (identity  不予开放 unless de-identified (consent alone is
    numbers, bank cards) or health field with       not enough for an open release)
    personal information
G6  personal information of at least               重要 (important data thresholds used by the
    `important_subjects` people (default 1,000,000;  platform; 100,000 for autonomous driving, after
    100,000 in autonomous driving)                   the 2021 automobile data security provisions)
G7  listed in an important-data catalogue           重要, at most 有条件开放
G8  listed in a core-data catalogue                 核心, 不予开放 (a scan can never show this)
G9  only low-confidence findings (check digit       no change; a reason asks a person to look
    failed)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gaodi.engines.dataquality.sensitive import ENTITIES, Entity, ScanResult


class SecurityLevel(StrEnum):
    GENERAL = "general"  # 一般数据
    IMPORTANT = "important"  # 重要数据
    CORE = "core"  # 核心数据


class OpenType(StrEnum):
    UNCONDITIONAL = "unconditional"  # 无条件开放
    CONDITIONAL = "conditional"  # 有条件开放
    NOT_OPEN = "not_open"  # 不予开放


LEVEL_ZH = {SecurityLevel.GENERAL: "一般", SecurityLevel.IMPORTANT: "重要", SecurityLevel.CORE: "核心"}
OPEN_TYPE_ZH = {OpenType.UNCONDITIONAL: "无条件开放", OpenType.CONDITIONAL: "有条件开放", OpenType.NOT_OPEN: "不予开放"}
_LEVEL_ORDER = [SecurityLevel.GENERAL, SecurityLevel.IMPORTANT, SecurityLevel.CORE]
_OPEN_ORDER = [OpenType.UNCONDITIONAL, OpenType.CONDITIONAL, OpenType.NOT_OPEN]

FIELDS = {
    "general": "通用 general",
    "health": "生命健康 life and health",
    "autonomous_driving": "自动驾驶 autonomous driving",
    "transport": "交通 transport",
    "finance": "金融 finance",
    "education": "教育 education",
}
SENSITIVE_FIELDS = frozenset({"health", "autonomous_driving", "finance", "transport", "education"})
IMPORTANT_SUBJECTS = 1_000_000
IMPORTANT_SUBJECTS_DRIVING = 100_000


@dataclass(frozen=True)
class Reason:
    rule: str
    text_zh: str
    text_en: str
    level: SecurityLevel | None = None  # the level this rule asks for at least
    open_type: OpenType | None = None  # the open type this rule allows at most

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "text_zh": self.text_zh, "text_en": self.text_en,
                "level": self.level.value if self.level else None,
                "open_type": self.open_type.value if self.open_type else None}


@dataclass(frozen=True)
class GradingSuggestion:
    level: SecurityLevel
    open_type: OpenType
    reasons: tuple[Reason, ...]
    field: str
    personal_entities: tuple[str, ...] = ()
    sensitive_entities: tuple[str, ...] = ()
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def level_zh(self) -> str:
        return LEVEL_ZH[self.level]

    @property
    def open_type_zh(self) -> str:
        return OPEN_TYPE_ZH[self.open_type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level.value, "level_zh": self.level_zh, "open_type": self.open_type.value,
            "open_type_zh": self.open_type_zh, "field": self.field, "personal_entities": list(self.personal_entities),
            "sensitive_entities": list(self.sensitive_entities), "reasons": [r.to_dict() for r in self.reasons],
            "facts": dict(self.facts), "note": "A suggestion: the responsible person decides.",
        }


def _subjects_estimate(scan: ScanResult | None) -> int:
    """People covered, estimated as the largest count of confident personal identifiers in one column."""
    if scan is None:
        return 0
    best = 0
    for f in scan.findings:
        if f.entity in (Entity.RESIDENT_ID, Entity.MOBILE, Entity.BANK_CARD, Entity.EMAIL):
            best = max(best, f.valid)
    return best


def suggest_grading(
    scan: ScanResult | None,
    field: str = "general",
    *,
    deidentified: bool = False,
    consent: bool = False,
    subjects: int | None = None,
    in_important_catalog: bool = False,
    in_core_catalog: bool = False,
    important_subjects: int | None = None,
) -> GradingSuggestion:
    """Apply the rule table (module docstring) and return the suggestion with its reasons."""
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}; one of: {', '.join(FIELDS)}")
    reasons: list[Reason] = []
    findings = scan.findings if scan else []
    confident = {f.entity for f in findings if f.valid > 0 and ENTITIES[f.entity].personal}
    # valid counts findings that passed their check or are confident without one
    doubtful = {f.entity for f in findings if ENTITIES[f.entity].personal and f.count > 0 and f.valid == 0}
    sensitive = {e for e in confident if ENTITIES[e].sensitive}
    personal = sorted(e.value for e in confident)
    people = subjects if subjects is not None else _subjects_estimate(scan)
    threshold = important_subjects or (IMPORTANT_SUBJECTS_DRIVING if field == "autonomous_driving" else IMPORTANT_SUBJECTS)

    if not confident and field not in SENSITIVE_FIELDS and not in_important_catalog and not in_core_catalog:
        reasons.append(Reason("G1", "未发现个人信息，通用领域：建议一般数据、无条件开放",
                              "no personal information found, general field: general data, open unconditionally",
                              SecurityLevel.GENERAL, OpenType.UNCONDITIONAL))
    if field in SENSITIVE_FIELDS:
        reasons.append(Reason("G2", f"{FIELDS[field].split()[0]}领域数据实行分类分级开放（条例第十七条）：至少有条件开放",
                              f"{field.replace('_', ' ')} data is opened by class and grade (Art. 17): conditional at most",
                              None, OpenType.CONDITIONAL))
    if confident:
        names = "、".join(ENTITIES[e].label_zh for e in sorted(confident))
        if not deidentified and not consent:
            reasons.append(Reason("G3", f"含个人信息（{names}），未去标识化、未取得同意：不予开放",
                                  f"personal information ({', '.join(personal)}) that is neither de-identified nor "
                                  "consented: not open", None, OpenType.NOT_OPEN))
        else:
            how = "已去标识化" if deidentified else "已取得个人同意"
            reasons.append(Reason("G4", f"含个人信息（{names}），{how}：至多有条件开放",
                                  "personal information, " + ("de-identified" if deidentified else "consented")
                                  + ": conditional at most", None, OpenType.CONDITIONAL))
    if (sensitive or (field == "health" and confident)) and not deidentified:
        what = "、".join(ENTITIES[e].label_zh for e in sorted(sensitive)) or "健康领域个人信息"
        reasons.append(Reason("G5", f"含敏感个人信息（{what}），未去标识化：不予开放",
                              "sensitive personal information that is not de-identified: not open",
                              None, OpenType.NOT_OPEN))
    if confident and people >= threshold:
        reasons.append(Reason("G6", f"涉及约 {people:,} 人的个人信息，达到 {threshold:,} 人：建议重要数据",
                              f"personal information of about {people:,} people, at least {threshold:,}: important data",
                              SecurityLevel.IMPORTANT, None))
    if in_important_catalog:
        reasons.append(Reason("G7", "列入重要数据目录：重要数据，至多有条件开放",
                              "listed in an important-data catalogue: important, conditional at most",
                              SecurityLevel.IMPORTANT, OpenType.CONDITIONAL))
    if in_core_catalog:
        reasons.append(Reason("G8", "列入核心数据目录：核心数据，不予开放",
                              "listed in a core-data catalogue: core, not open", SecurityLevel.CORE, OpenType.NOT_OPEN))
    if doubtful - confident:
        names = "、".join(ENTITIES[e].label_zh for e in sorted(doubtful - confident))
        reasons.append(Reason("G9", f"疑似个人信息（{names}）校验未通过，请人工核对",
                              "possible personal information whose check digits failed: please review", None, None))

    level = SecurityLevel.GENERAL
    open_type = OpenType.UNCONDITIONAL
    for r in reasons:
        if r.level is not None and _LEVEL_ORDER.index(r.level) > _LEVEL_ORDER.index(level):
            level = r.level
        if r.open_type is not None and _OPEN_ORDER.index(r.open_type) > _OPEN_ORDER.index(open_type):
            open_type = r.open_type
    if level is SecurityLevel.IMPORTANT and open_type is OpenType.UNCONDITIONAL:
        open_type = OpenType.CONDITIONAL
    return GradingSuggestion(
        level=level, open_type=open_type, reasons=tuple(reasons), field=field,
        personal_entities=tuple(personal), sensitive_entities=tuple(sorted(e.value for e in sensitive)),
        facts={"deidentified": deidentified, "consent": consent, "subjects": people,
               "in_important_catalog": in_important_catalog, "in_core_catalog": in_core_catalog},
    )
