"""Grading suggestion: the documented rule table, strictest outcome wins, reasons are given."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest
from test_dq_support import random_card, random_mobile, random_resident_id, random_uscc, wrong_check

from gaodi.engines.dataquality import OpenType, SecurityLevel, scan_frame, suggest_grading


def scan(**columns):
    return scan_frame(pl.DataFrame(columns), today=date(2024, 6, 1))


RNG = random.Random(9)
CLEAN = scan(city=["上海", "北京"], count=["12", "30"])
COMPANIES = scan(code=[random_uscc(RNG) for _ in range(5)])
PHONES = scan(phone=[random_mobile(RNG) for _ in range(5)])
IDS = scan(id=[random_resident_id(RNG) for _ in range(5)])
BAD_IDS = scan(id=[wrong_check(random_resident_id(RNG)) for _ in range(5)])
CARDS = scan(card=[random_card(RNG) for _ in range(5)])


def rules(s):
    return [r.rule for r in s.reasons]


@pytest.mark.parametrize("result, field, kwargs, level, open_type, fired", [
    (CLEAN, "general", {}, "general", "unconditional", ["G1"]),
    (COMPANIES, "general", {}, "general", "unconditional", ["G1"]),  # credit codes are not personal
    (CLEAN, "health", {}, "general", "conditional", ["G2"]),
    (CLEAN, "autonomous_driving", {}, "general", "conditional", ["G2"]),
    (PHONES, "general", {}, "general", "not_open", ["G3"]),
    (PHONES, "general", {"deidentified": True}, "general", "conditional", ["G4"]),
    (PHONES, "general", {"consent": True}, "general", "conditional", ["G4"]),
    (IDS, "general", {"consent": True}, "general", "not_open", ["G4", "G5"]),  # sensitive: consent is not enough
    (IDS, "general", {"deidentified": True}, "general", "conditional", ["G4"]),
    (CARDS, "finance", {}, "general", "not_open", ["G2", "G3", "G5"]),
    (PHONES, "health", {"consent": True}, "general", "not_open", ["G2", "G4", "G5"]),
    (PHONES, "general", {"subjects": 2_000_000}, "important", "not_open", ["G3", "G6"]),
    (PHONES, "autonomous_driving", {"subjects": 150_000, "deidentified": True}, "important", "conditional",
     ["G2", "G4", "G6"]),
    (PHONES, "general", {"subjects": 150_000}, "general", "not_open", ["G3"]),
    (CLEAN, "general", {"in_important_catalog": True}, "important", "conditional", ["G7"]),
    (CLEAN, "general", {"in_core_catalog": True}, "core", "not_open", ["G8"]),
    (BAD_IDS, "general", {}, "general", "unconditional", ["G1", "G9"]),  # only failed check digits: review
    (None, "education", {}, "general", "conditional", ["G2"]),
])
def test_rule_table(result, field, kwargs, level, open_type, fired):
    s = suggest_grading(result, field, **kwargs)
    assert (s.level.value, s.open_type.value) == (level, open_type)
    assert rules(s) == fired
    assert all(r.text_zh and r.text_en for r in s.reasons)


def test_suggestion_is_plain_data_with_chinese_labels():
    s = suggest_grading(IDS, "general")
    assert s.level is SecurityLevel.GENERAL and s.open_type is OpenType.NOT_OPEN
    assert (s.level_zh, s.open_type_zh) == ("一般", "不予开放")
    assert s.sensitive_entities == ("RESIDENT_ID",)
    data = s.to_dict()
    assert data["open_type_zh"] == "不予开放" and "person decides" in data["note"]
    assert data["facts"]["subjects"] == 5


def test_unknown_field():
    with pytest.raises(ValueError, match="unknown field 'space'"):
        suggest_grading(CLEAN, "space")
