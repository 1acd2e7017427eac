"""Sensitive-data scanner: what counts as a finding, confidence, masking, counts per column."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest
from test_dq_support import (
    STANDARD_EXAMPLE_ID,
    random_card,
    random_mobile,
    random_resident_id,
    random_uscc,
    wrong_check,
)

from gaodi.engines.dataquality import Entity, ReadOptions, scan_file, scan_frame
from gaodi.engines.dataquality.sensitive import mask

TODAY = date(2024, 6, 1)


def findings(frame: pl.DataFrame) -> dict[tuple[str, str], object]:
    result = scan_frame(frame, today=TODAY)
    return {(f.column, f.entity.value): f for f in result.findings}


def test_each_entity_is_found_counted_and_masked():
    rng = random.Random(1)
    ids = [random_resident_id(rng) for _ in range(20)]
    cards = [random_card(rng, 16) for _ in range(10)] + [random_card(rng, 19) for _ in range(10)]
    usccs = [random_uscc(rng) for _ in range(20)]
    mobiles = [random_mobile(rng) for _ in range(20)]
    frame = pl.DataFrame({
        "id": ids, "card": cards, "code": usccs, "phone": mobiles,
        "mail": [f"user{i}@example.com" for i in range(20)],
        "ip": [f"10.0.{i}.{200 + i}" for i in range(20)],
        "ip6": ["2001:db8::1", "fe80:0:0:0:202:b3ff:fe1e:8329"] * 10,
        "plate": ["沪A12345", "沪AD12345", "京B5678F", "粤BF1234", "苏E8A88挂"] * 4,
        "remark": [f"联系人 {m}，邮箱 a{i}@example.cn" for i, m in enumerate(mobiles)],
    })
    got = findings(frame)
    assert got[("id", "RESIDENT_ID")].count == 20 and got[("id", "RESIDENT_ID")].valid == 20
    assert got[("card", "BANK_CARD")].count == 20 and got[("card", "BANK_CARD")].valid == 20
    assert got[("code", "USCC")].count == 20 and got[("code", "USCC")].valid == 20
    assert got[("phone", "MOBILE")].count == 20
    assert got[("mail", "EMAIL")].count == 20
    assert got[("ip", "IPV4")].count == 20
    assert got[("ip6", "IPV6")].count == 20
    assert got[("plate", "LICENSE_PLATE")].count == 20
    assert got[("remark", "MOBILE")].count == 20 and got[("remark", "EMAIL")].count == 20
    # nothing else: no ID found in the card column, no phone inside an ID number, ...
    assert set(got) == {("id", "RESIDENT_ID"), ("card", "BANK_CARD"), ("code", "USCC"), ("phone", "MOBILE"),
                        ("mail", "EMAIL"), ("ip", "IPV4"), ("ip6", "IPV6"), ("plate", "LICENSE_PLATE"),
                        ("remark", "MOBILE"), ("remark", "EMAIL")}
    sample = got[("id", "RESIDENT_ID")].samples[0]
    assert len(sample) == 18 and sample[3:14] == "*" * 11
    assert sample[:3] + sample[-4:] in {i[:3] + i[-4:] for i in ids}


def test_masks():
    assert mask(Entity.RESIDENT_ID, "110105194912310021") == "110***********0021"
    assert mask(Entity.MOBILE, "13812345678") == "138****5678"
    assert mask(Entity.MOBILE, "8613812345678") == "86138****5678"
    assert mask(Entity.BANK_CARD, "6222021234567890123") == "6222***********0123"
    assert mask(Entity.EMAIL, "zhang.san@example.com") == "z***@example.com"
    assert mask(Entity.IPV4, "192.168.1.20") == "192.168.*.*"
    assert mask(Entity.LICENSE_PLATE, "沪AD12345") == "沪A****45"


def test_a_checksum_failure_lowers_confidence_but_is_still_reported():
    rng = random.Random(2)
    good = [random_resident_id(rng) for _ in range(6)]
    bad = [wrong_check(v) for v in good[:3]]
    cards_bad = [c[:-1] + str((int(c[-1]) + 1) % 10) for c in (random_card(rng) for _ in range(4))]
    got = findings(pl.DataFrame({"id": good + bad, "card": cards_bad + [None] * 5}))
    ids = got[("id", "RESIDENT_ID")]
    assert (ids.count, ids.valid, ids.checksum_failed) == (9, 6, 3)
    assert 0.5 < ids.confidence < 0.95
    card = got[("card", "BANK_CARD")]
    assert (card.count, card.valid, card.checksum_failed) == (4, 0, 4)
    assert card.confidence == pytest.approx(0.3)


def test_digit_runs_are_taken_whole():
    frame = pl.DataFrame({"v": [
        "订单号 1381234567800001",  # 16 digits: a card candidate (Luhn decides), never a phone
        "tel:13812345678;",  # a phone
        "+8613812345678",  # a phone with the country code
        "23812345678",  # 11 digits but not 1[3-9]
        "1381234567",  # 10 digits
        STANDARD_EXAMPLE_ID,  # an ID, not a card and not a phone
    ]})
    got = findings(frame)
    assert got[("v", "MOBILE")].count == 2
    assert got[("v", "RESIDENT_ID")].count == 1
    assert got[("v", "BANK_CARD")].count == 1  # the order number, with low confidence
    assert got[("v", "BANK_CARD")].valid in (0, 1)


def test_uscc_precedence_and_shapes():
    rng = random.Random(3)
    code = random_uscc(rng)
    frame = pl.DataFrame({"v": [
        f"统一社会信用代码：{code}。",
        wrong_check(code, "0123456789ABCDEFGHJKLMNPQRTUWXY") if not code[-1].isdigit() else code[:-1] + "A",
        "ABCDEFGHIJKLMNOPQR",  # 18 capitals but not the code shape (I, O in it; no division digits)
    ]})
    got = findings(frame)
    f = got[("v", "USCC")]
    assert f.count == 2 and f.valid == 1 and f.checksum_failed == 1


def test_non_text_columns_are_scanned_or_skipped_with_a_reason():
    frame = pl.DataFrame({"phone": [13812345678, 13912345678], "score": [1.5, 2.5], "empty": [None, None]})
    result = scan_frame(frame, today=TODAY)
    assert result.counts_by_entity() == {"MOBILE": 2}
    assert "score" in result.columns_skipped and "empty" in result.columns_skipped


def test_scan_file_reads_csv_as_text_keeping_leading_zeros_and_x(tmp_path):
    path = tmp_path / "people.csv"
    rng = random.Random(4)
    ids = [random_resident_id(rng) for _ in range(5)] + [STANDARD_EXAMPLE_ID]
    lines = ["姓名,身份证,电话"] + [f"张{i},{v},{random_mobile(rng)}" for i, v in enumerate(ids)]
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    result = scan_file(path, options=ReadOptions(chunk_bytes=1024), today=TODAY)
    assert result.read is not None and result.read.encoding == "GB18030"
    assert result.counts_by_entity(valid_only=True) == {"MOBILE": 6, "RESIDENT_ID": 6}
    assert result.to_dict()["findings"][0]["label_zh"] == "居民身份证号码"


def test_counts_are_the_same_in_one_batch_or_many(tmp_path):
    rng = random.Random(5)
    values = [f"{random_mobile(rng)} {random_resident_id(rng)}" if i % 3 else "无" for i in range(3000)]
    path = tmp_path / "t.csv"
    path.write_text("v\n" + "\n".join(values) + "\n", encoding="utf-8")
    whole = scan_file(path, today=TODAY)
    small = scan_file(path, options=ReadOptions(chunk_bytes=2048), today=TODAY)
    assert small.read.batches > 10
    assert whole.counts_by_entity() == small.counts_by_entity() == {"MOBILE": 2000, "RESIDENT_ID": 2000}
    assert [f.cells for f in whole.findings] == [f.cells for f in small.findings] == [2000, 2000]
