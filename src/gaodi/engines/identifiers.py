"""Chinese organisation identifiers: the unified social credit code (统一社会信用代码, GB 32100-2015).

An 18-character code: registration authority (1), organisation category (1), administrative division
(6, GB/T 2260), organisation code (9, GB 11714-1997, itself ending in a check character) and a final
check character over the first 17. The alphabet is the digits and 21 capital letters: I, O, S, V and
Z are never used, so nothing is confused with 1, 0, 5, U or 2.

Pure functions: no Django, usable from forms, importers and the demo data generator alike.
"""

from __future__ import annotations

import re

# GB 32100-2015, Table 2: the 31 code characters in order of their value 0..30.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: value for value, ch in enumerate(USCC_ALPHABET)}
# Weight of position i (0-based) is 3**i mod 31.
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# GB 11714-1997: the 8-character body of an organisation code and its check character.
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = re.compile(r"^[0-9A-Z]{8}$")


def uscc_check_char(first17: str) -> str:
    """The check character (18th) of a unified social credit code, given its first 17 characters.

    C18 = 31 - (sum of value(Ci) * 3**(i-1) mod 31) mod 31, mapped back through the code alphabet
    (a result of 31 means 0).
    """
    if len(first17) != 17:
        raise ValueError(f"expected the first 17 characters of the code, got {len(first17)}")
    try:
        total = sum(_USCC_VALUE[ch] * weight for ch, weight in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(
            f"{exc.args[0]!r} is not a code character (digits and capital letters without I, O, S, V, Z)"
        ) from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True if code has the GB 32100 shape (18 characters, division code all digits) and check character.

    The organisation code inside (characters 9-17) is not checked here: see `is_valid_org_code`.
    """
    if not isinstance(code, str) or not _USCC_SHAPE.match(code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def org_code_check_char(body8: str) -> str:
    """The check character (9th) of a GB 11714 organisation code: 0-9 or X.

    Letters count as 10-35 (A=10 ... Z=35); C9 = 11 - (sum mod 11), where 10 is written X and 11 is 0.
    """
    if not _ORG_BODY.match(body8):
        raise ValueError(f"an organisation code body is 8 digits or capital letters, got {body8!r}")
    total = sum(int(ch, 36) * weight for ch, weight in zip(body8, ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def is_valid_org_code(code: str) -> bool:
    """True if code is a 9-character GB 11714 organisation code with the right check character."""
    if not isinstance(code, str) or len(code) != 9 or not _ORG_BODY.match(code[:8]):
        return False
    return org_code_check_char(code[:8]) == code[8]


def make_uscc(authority: str, category: str, division: str, org_body8: str) -> str:
    """Assemble a complete code: both check characters are computed, so the result always validates.

    authority and category are one character each (enterprises registered by market regulation are
    "9" and "1"), division is the 6-digit administrative division code, org_body8 the organisation
    code without its check character.
    """
    if len(authority) != 1 or len(category) != 1:
        raise ValueError("authority and category are one character each")
    if not re.fullmatch(r"\d{6}", division):
        raise ValueError(f"the administrative division code has 6 digits, got {division!r}")
    org_code = org_body8 + org_code_check_char(org_body8)
    first17 = authority + category + division + org_code
    return first17 + uscc_check_char(first17)
