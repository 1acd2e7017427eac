"""Known value patterns, for detecting a text column's format when none is declared.

On the first batch, each pattern below is tried on the column's non-missing values (at most
10,000); the first pattern in this order that at least 90% of them match becomes the column's
*detected* pattern, and conformance is then measured over every batch. Identifiers with a check
digit also get an accuracy check: among the values in the pattern, the share whose check passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

DETECT_THRESHOLD = 0.9
DETECT_SAMPLE = 10_000


@dataclass(frozen=True)
class KnownPattern:
    name: str
    regex: str  # anchored, Rust regex syntax
    description: str
    checksum: str | None = None  # resident_id, uscc, luhn


KNOWN_PATTERNS: tuple[KnownPattern, ...] = (
    KnownPattern("resident_id", r"^[0-9]{17}[0-9Xx]$", "居民身份证号码 resident identity number", "resident_id"),
    KnownPattern("uscc", r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
                 "统一社会信用代码 unified social credit code", "uscc"),
    KnownPattern("mobile", r"^1[3-9][0-9]{9}$", "手机号码 mobile number"),
    KnownPattern("bank_card", r"^[0-9]{16,19}$", "银行卡号 bank card number", "luhn"),
    KnownPattern("landline", r"^0[0-9]{2,3}-?[0-9]{7,8}$", "固定电话 landline number"),
    KnownPattern("postal_code", r"^[0-9]{6}$", "邮政编码 postal code"),
    KnownPattern("email", r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$", "电子邮箱 e-mail"),
    KnownPattern("url", r"^https?://[^\s]+$", "网址 URL"),
    KnownPattern("ipv4", r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$",
                 "IPv4 address"),
    KnownPattern("uuid", r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", "UUID"),
    KnownPattern("date", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "date YYYY-MM-DD"),
    KnownPattern("datetime", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?$",
                 "date and time"),
    KnownPattern("license_plate",
                 r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]$",
                 "机动车号牌 licence plate"),
    KnownPattern("han_2_4", r"^[\p{Han}]{2,4}$", "2-4 Han characters (names, places)"),
    KnownPattern("integer_text", r"^[+-]?[0-9]+$", "digits"),
    KnownPattern("decimal_text", r"^[+-]?[0-9]+\.[0-9]+$", "decimal number"),
)
BY_NAME = {p.name: p for p in KNOWN_PATTERNS}


def detect_pattern(values: pl.Series) -> KnownPattern | None:
    """The first known pattern that at least 90% of the non-missing values match, or None."""
    present = values.drop_nulls()
    present = present.filter(present.str.strip_chars() != "").head(DETECT_SAMPLE)
    n = len(present)
    if n == 0:
        return None
    for pattern in KNOWN_PATTERNS:
        if float(present.str.contains(pattern.regex).sum()) / n >= DETECT_THRESHOLD:
            return pattern
    return None


def anchored(regex: str) -> str:
    """A declared pattern must match the whole value."""
    return f"^(?:{regex})$"
