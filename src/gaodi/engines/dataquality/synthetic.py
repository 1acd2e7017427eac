"""Synthetic values with valid check digits, made from random numbers: never real people's data.

Benchmarks, demos and tests need identity numbers, credit codes and card numbers whose check digits
are right, in millions. Each generator draws the free parts at random and computes the check
characters from the standards (GB 11643, GB 32100 with GB 11714, Luhn), vectorised with NumPy.
The tests do not trust these generators: they compare them with scalar generators written in the
tests from the standards directly.
"""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.dataquality.checksums import (
    char_matrix,
    luhn_check_digits,
    resident_id_check_codes,
    uscc_check_codes,
)
from gaodi.engines.identifiers import USCC_ALPHABET

Rng = np.random.Generator
pa: Any = importlib.import_module("pyarrow")  # untyped; imported this way so mypy needs no stubs

# Province-level division codes used for synthetic identity numbers and credit codes.
_PROVINCES = np.array([11, 12, 31, 32, 33, 34, 35, 37, 42, 44, 50, 51, 61], dtype=np.int64)
# Mobile number segments (号段) in service; the scanner gives other 1[3-9] numbers lower confidence.
MOBILE_SEGMENTS = (
    "130 131 132 133 134 135 136 137 138 139 145 147 149 150 151 152 153 155 156 157 158 159 162 165 "
    "166 167 170 171 172 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 190 191 192 193 "
    "195 196 197 198 199"
).split()
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢")
_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉俊峰建国志宏晨阳欣怡子涵雨轩浩宇梓萱思远")
_EMAIL_DOMAINS = ["example.com", "example.cn", "mail.example.org", "test.example.net", "corp.example.com.cn"]


def _from_codes(codes: npt.NDArray[np.uint8]) -> pl.Series:
    """A string Series from an ``(n, width)`` array of ASCII codes, without a Python loop."""
    n, width = codes.shape
    offsets = np.arange(0, n * width + 1, width, dtype=np.int64)
    array = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(codes).tobytes())
    )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.cast(pl.String)


def _concat(parts: list[pl.Series], separator: str = "") -> pl.Series:
    return pl.select(pl.concat_str(parts, separator=separator)).to_series()


def _digits_str(rng: Rng, n: int, width: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10**width, n, dtype=np.int64)).cast(pl.String).str.zfill(width)


def _pick(rng: Rng, options: list[str] | tuple[str, ...] | str, n: int) -> pl.Series:
    seq = list(options)
    return pl.Series(seq, dtype=pl.String).gather(rng.integers(0, len(seq), n))


def resident_ids(n: int, rng: Rng, *, born_from: date = date(1940, 1, 1), born_to: date = date(2005, 12, 31),
                 bad_check_fraction: float = 0.0) -> pl.Series:
    """n 18-character GB 11643 identity numbers with valid province, birth date and check character.

    A fraction `bad_check_fraction` get a wrong check character (for testing lowered confidence).
    """
    province = _PROVINCES[rng.integers(0, len(_PROVINCES), n)]
    rest = rng.integers(1, 10000, n)
    start = np.datetime64(born_from.isoformat())
    days = int((np.datetime64(born_to.isoformat()) - start).astype(np.int64))
    birth = (start + rng.integers(0, days + 1, n).astype("timedelta64[D]")).astype("datetime64[D]")
    birth_s = pl.Series(birth).dt.strftime("%Y%m%d")
    body = _concat(
        [pl.Series(province).cast(pl.String), pl.Series(rest).cast(pl.String).str.zfill(4), birth_s,
         _digits_str(rng, n, 3)]
    )
    codes = char_matrix(body, 17)
    check = resident_id_check_codes(codes.astype(np.int64) - 48)
    if bad_check_fraction > 0:
        bad = rng.random(n) < bad_check_fraction
        alt = np.frombuffer(b"0123456789X", dtype=np.uint8)
        shift = rng.integers(1, 11, n)
        index = (np.searchsorted(alt, check) + shift) % 11
        check = np.where(bad, alt[index], check).astype(np.uint8)
    return _from_codes(np.concatenate([codes, check[:, None]], axis=1))


def mobiles(n: int, rng: Rng) -> pl.Series:
    """n 11-digit mainland mobile numbers in segments in service."""
    return _concat([_pick(rng, MOBILE_SEGMENTS, n), _digits_str(rng, n, 8)])


def usccs(n: int, rng: Rng, *, bad_check_fraction: float = 0.0) -> pl.Series:
    """n unified social credit codes (authority 9, category 1, a Shanghai division) with both checks."""
    alphabet = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
    division = 310000 + rng.integers(101, 121, n)
    div_codes = char_matrix(pl.Series(division).cast(pl.String), 6)
    body_values = rng.integers(0, len(USCC_ALPHABET), (n, 8))
    body = alphabet[body_values]
    # GB 11714 organisation code check: letters count 10-35, weights 3 7 9 10 5 8 4 2.
    as36 = np.where(body >= ord("A"), body.astype(np.int64) - ord("A") + 10, body.astype(np.int64) - 48)
    org_check = 11 - (as36 @ np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)) % 11
    org_code = np.where(org_check == 10, ord("X"), np.where(org_check == 11, ord("0"), org_check + 48))
    head = np.tile(np.frombuffer(b"91", dtype=np.uint8), (n, 1))
    first17 = np.concatenate([head, div_codes, body, org_code.astype(np.uint8)[:, None]], axis=1)
    lookup = np.full(256, 0, dtype=np.int64)
    lookup[alphabet] = np.arange(len(alphabet))
    check = uscc_check_codes(lookup[first17])
    if bad_check_fraction > 0:
        bad = rng.random(n) < bad_check_fraction
        shifted = alphabet[(lookup[check] + rng.integers(1, 31, n)) % 31]
        check = np.where(bad, shifted, check).astype(np.uint8)
    return _from_codes(np.concatenate([first17, check[:, None]], axis=1))


def bank_cards(n: int, rng: Rng, *, bad_check_fraction: float = 0.0) -> pl.Series:
    """n UnionPay-style card numbers: "62", then random digits, then the Luhn digit; 16 or 19 digits."""
    out = []
    lengths = np.where(rng.random(n) < 0.5, 16, 19)
    order = np.argsort(lengths, kind="stable")
    for width in (16, 19):
        m = int((lengths == width).sum())
        digits = np.concatenate(
            [np.tile(np.array([6, 2]), (m, 1)), rng.integers(0, 10, (m, width - 3))], axis=1
        ).astype(np.int64)
        check = luhn_check_digits(digits)
        if bad_check_fraction > 0:
            bad = rng.random(m) < bad_check_fraction
            check = np.where(bad, (check + rng.integers(1, 10, m)) % 10, check)
        codes = (np.concatenate([digits, check[:, None]], axis=1) + 48).astype(np.uint8)
        out.append(_from_codes(codes))
    combined = pl.concat(out)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    return combined.gather(inverse)


def emails(n: int, rng: Rng) -> pl.Series:
    """n e-mail addresses at example domains (RFC 2606 / reserved names)."""
    local = _concat([_pick(rng, ["li", "wang", "zhang", "chen", "liu", "data", "ops"], n),
                           pl.Series(rng.integers(1, 100000, n)).cast(pl.String)], separator=".")
    return _concat([local, _pick(rng, _EMAIL_DOMAINS, n)], separator="@")


def ipv4s(n: int, rng: Rng) -> pl.Series:
    """n dotted-quad IPv4 addresses."""
    parts = [pl.Series(rng.integers(1, 224, n)).cast(pl.String)] + [
        pl.Series(rng.integers(0, 256, n)).cast(pl.String) for _ in range(3)
    ]
    return _concat(parts, separator=".")


def ipv6s(n: int, rng: Rng) -> pl.Series:
    """n full-form IPv6 addresses in the documentation prefix 2001:db8::/32."""
    hexes = pl.Series([f"{v:x}" for v in range(65536)], dtype=pl.String)
    groups = [hexes.gather(rng.integers(0, 65536, n)) for _ in range(6)]
    return _concat([pl.Series(["2001:db8"] * n, dtype=pl.String), *groups], separator=":")


def plates(n: int, rng: Rng, *, new_energy_fraction: float = 0.3) -> pl.Series:
    """n licence plates: province character, authority letter, then 5 characters or (new energy) 6."""
    province = _pick(rng, PLATE_PROVINCES, n)
    letter = _pick(rng, PLATE_LETTERS, n)
    regular = _concat([_pick(rng, PLATE_LETTERS + "0123456789", n) for _ in range(2)] + [_digits_str(rng, n, 3)])
    new_energy = _concat([_pick(rng, "DF", n), _pick(rng, PLATE_LETTERS + "0123456789", n), _digits_str(rng, n, 4)])
    is_new = pl.Series(rng.random(n) < new_energy_fraction)
    tail = pl.select(pl.when(is_new).then(new_energy).otherwise(regular)).to_series()
    return _concat([province, letter, tail])


def chinese_names(n: int, rng: Rng) -> pl.Series:
    """n Chinese personal names: a common surname and one or two given-name characters."""
    given2 = _concat([_pick(rng, _GIVEN, n), _pick(rng, _GIVEN, n)])
    given1 = _pick(rng, _GIVEN, n)
    two = pl.Series(rng.random(n) < 0.7)
    given = pl.select(pl.when(two).then(given2).otherwise(given1)).to_series()
    return _concat([_pick(rng, _SURNAMES, n), given])
