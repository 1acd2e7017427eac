"""Vectorised check-digit tests over many candidate strings at once.

Candidates come as a Polars string Series of one fixed width; `char_matrix` turns them into an
``(n, width)`` array of byte codes, and each check works on whole columns of that array with NumPy,
so a million candidates cost a few milliseconds, not a Python loop.

- GB 11643-1999 citizen identity number (公民身份号码): 17 digits and a MOD 11-2 check character
  (0-9 or X); digits 7-14 are the birth date (YYYYMMDD), digits 1-2 the province of the
  administrative division (GB/T 2260).
- GB 32100-2015 unified social credit code: the weights and alphabet come from
  `gaodi.engines.identifiers`, which holds the scalar version of the same check.
- Luhn (ISO/IEC 7812-1) for bank card numbers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.identifiers import USCC_ALPHABET, USCC_WEIGHTS

Bools = npt.NDArray[np.bool_]
Codes = npt.NDArray[np.uint8]

# GB 11643-1999: weight of position i (1-based) is 2**(18-i) mod 11; check = "10X98765432"[sum mod 11].
ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
ID_CHECK_CHARS = "10X98765432"
_ID_CHECK_CODES = np.frombuffer(ID_CHECK_CHARS.encode("ascii"), dtype=np.uint8)

# Province-level codes of GB/T 2260 (the first two digits of a division code), plus 71 Taiwan,
# 81 Hong Kong, 82 Macao and 83 (residence permits of Taiwan residents). Only the province is checked:
# the full division table has thousands of entries that change every year.
PROVINCE_CODES = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46]
    + [50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83]
)
_PROVINCE_TABLE = np.zeros(100, dtype=np.bool_)
_PROVINCE_TABLE[sorted(PROVINCE_CODES)] = True

_USCC_VALUES = np.full(256, -1, dtype=np.int64)
for _value, _ch in enumerate(USCC_ALPHABET):
    _USCC_VALUES[ord(_ch)] = _value
_USCC_WEIGHTS = np.array(USCC_WEIGHTS, dtype=np.int64)
_USCC_VALUES16 = _USCC_VALUES.astype(np.int16)
_LUHN_DOUBLED = np.array([0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.uint8)  # 2d, minus 9 when over 9
_USCC_ALPHABET_CODES = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def char_matrix(values: pl.Series, width: int) -> Codes:
    """The byte codes of n ASCII strings of exactly `width` characters, as an ``(n, width)`` array."""
    n = len(values)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    joined = values.str.join("").item()
    raw = joined.encode("ascii", errors="replace")
    if len(raw) != n * width:
        raise ValueError(f"expected {n} strings of {width} ASCII characters")
    return np.frombuffer(raw, dtype=np.uint8).reshape(n, width)


def _digits(codes: Codes) -> npt.NDArray[np.int64]:
    return codes.astype(np.int64) - 48


def _number(codes: Codes) -> npt.NDArray[np.int64]:
    """The decimal number spelled by each row of digit codes."""
    out = np.zeros(codes.shape[0], dtype=np.int64)
    for j in range(codes.shape[1]):
        out = out * 10 + (codes[:, j].astype(np.int64) - 48)
    return out


def resident_id_check_ok(codes: Codes) -> Bools:
    """True where the 18th character is the GB 11643 MOD 11-2 check character of the first 17."""
    total = np.zeros(codes.shape[0], dtype=np.int32)
    for j in range(17):  # one vector operation per position: faster than a matrix product on integers
        total += (codes[:, j].astype(np.int32) - 48) * int(ID_WEIGHTS[j])
    expected = _ID_CHECK_CODES[total % 11]
    last = codes[:, 17].copy()
    last[last == ord("x")] = ord("X")
    ok: Bools = last == expected
    return ok


def valid_birth_dates(year: npt.NDArray[np.int64], month: npt.NDArray[np.int64], day: npt.NDArray[np.int64],
                      *, latest: date) -> Bools:
    """True where (year, month, day) is a real calendar date between 1900-01-01 and `latest`."""
    month_ok = (month >= 1) & (month <= 12)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    dim = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    ok = month_ok & (day >= 1) & (day <= dim) & (year >= 1900)
    as_number = year * 10000 + month * 100 + day
    ok &= as_number <= latest.year * 10000 + latest.month * 100 + latest.day
    result: Bools = ok
    return result


def resident_id_structure_ok(codes: Codes, *, latest: date | None = None) -> Bools:
    """True where the province prefix is a real province code and digits 7-14 a real birth date."""
    province = _number(codes[:, :2])
    year = _number(codes[:, 6:10])
    month = _number(codes[:, 10:12])
    day = _number(codes[:, 12:14])
    ok: Bools = _PROVINCE_TABLE[province] & valid_birth_dates(year, month, day, latest=latest or date.today())
    return ok


def uscc_check_ok(codes: Codes) -> Bools:
    """True where the 18th character is the GB 32100 check character of the first 17.

    Characters outside the code alphabet (I, O, S, V, Z, lower case) make the check fail.
    """
    n = codes.shape[0]
    total = np.zeros(n, dtype=np.int32)
    in_alphabet = np.ones(n, dtype=np.bool_)
    for j in range(17):
        values = _USCC_VALUES16[codes[:, j]]
        in_alphabet &= values >= 0
        total += values.astype(np.int32) * int(_USCC_WEIGHTS[j])
    last = _USCC_VALUES16[codes[:, 17]]
    ok: Bools = in_alphabet & (last == (31 - total % 31) % 31)
    return ok


def luhn_ok(codes: Codes) -> Bools:
    """True where the digits pass the Luhn check (every second digit from the right doubled)."""
    digits = codes - np.uint8(48)
    width = digits.shape[1]
    doubled = np.zeros(width, dtype=np.bool_)
    doubled[width - 2 :: -2] = True
    total = digits[:, ~doubled].sum(axis=1, dtype=np.int32) + _LUHN_DOUBLED[digits[:, doubled]].sum(
        axis=1, dtype=np.int32)
    ok: Bools = total % 10 == 0
    return ok


def uscc_check_codes(values: npt.NDArray[np.int64]) -> Codes:
    """The check characters (as byte codes) for rows of 17 USCC character values (for generators)."""
    total = values @ _USCC_WEIGHTS
    out: Codes = _USCC_ALPHABET_CODES[(31 - total % 31) % 31]
    return out


def resident_id_check_codes(digits17: npt.NDArray[np.int64]) -> Codes:
    """The GB 11643 check characters (as byte codes) for rows of 17 digits (for generators)."""
    out: Codes = _ID_CHECK_CODES[(digits17 @ ID_WEIGHTS) % 11]
    return out


def luhn_check_digits(digits: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The Luhn check digit to append to each row of digits (for generators)."""
    width = digits.shape[1] + 1
    doubled = np.zeros(width, dtype=np.bool_)
    doubled[width - 2 :: -2] = True
    d = digits.copy()
    d[:, doubled[:-1]] *= 2
    d[d > 9] -= 9
    out: npt.NDArray[np.int64] = (10 - d.sum(axis=1) % 10) % 10
    return out
