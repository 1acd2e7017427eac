import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaodi.engines.identifiers import (
    USCC_ALPHABET,
    USCC_WEIGHTS,
    is_valid_org_code,
    is_valid_uscc,
    make_uscc,
    org_code_check_char,
    uscc_check_char,
)

# Codes published on business licences (public registration records), so the check characters are
# the authorities' own, not ours.
PUBLISHED = ["91350100M000100Y43", "91110108551385082Q", "9144030071526726XG"]


def test_weights_are_the_standard_table():
    # GB 32100-2015 Table 3 lists them explicitly.
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(USCC_ALPHABET) == 31 and not set("IOSVZ") & set(USCC_ALPHABET)


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_validate(code):
    assert uscc_check_char(code[:17]) == code[17]
    assert is_valid_uscc(code)
    assert is_valid_org_code(code[8:17])


@pytest.mark.parametrize("code", PUBLISHED)
def test_any_single_character_change_is_detected(code):
    # A weighted sum mod a prime catches every single-character substitution.
    for pos in range(18):
        for ch in USCC_ALPHABET:
            if ch == code[pos]:
                continue
            changed = code[:pos] + ch + code[pos + 1:]
            assert not is_valid_uscc(changed), changed


def test_adjacent_transpositions_are_detected():
    code = PUBLISHED[1]
    for pos in range(17):
        if code[pos] != code[pos + 1]:
            swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2:]
            assert not is_valid_uscc(swapped), swapped


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "91110108551385082",  # 17 characters
        "91110108551385082QQ",  # 19 characters
        "91110108551385082q",  # lower case
        "9111010855138508IQ",  # I is not a code character
        "911101O8551385082Q",  # letter in the division code
        None,
        91110108551385082,
    ],
)
def test_malformed_codes_are_invalid_not_errors(bad):
    assert is_valid_uscc(bad) is False


def test_check_char_rejects_bad_input_with_a_clear_message():
    with pytest.raises(ValueError, match="17"):
        uscc_check_char("123")
    with pytest.raises(ValueError, match="'O' is not a code character"):
        uscc_check_char("9111010855138508O")


def test_org_code_check_char_uses_x_and_zero():
    assert org_code_check_char("71526726") == "X"  # Tencent's organisation code 71526726-X
    assert org_code_check_char("55138508") == "2"
    bodies = [f"{n:08d}" for n in range(2000)]
    assert {org_code_check_char(b) for b in bodies} == set("0123456789X")
    assert not is_valid_org_code("715267260")
    assert not is_valid_org_code("7152672")
    with pytest.raises(ValueError):
        org_code_check_char("7152672a")


def test_make_uscc_builds_valid_codes():
    code = make_uscc("9", "1", "310115", "MA1FL5X3")
    assert len(code) == 18 and code.startswith("91310115MA1FL5X3")
    assert is_valid_uscc(code) and is_valid_org_code(code[8:17])
    with pytest.raises(ValueError):
        make_uscc("9", "1", "31011", "MA1FL5X3")
    with pytest.raises(ValueError):
        make_uscc("91", "1", "310115", "MA1FL5X3")


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_appending_the_check_char_always_validates(first17):
    code = first17 + uscc_check_char(first17)
    # The shape also requires a 6-digit division code in characters 3-8.
    assert is_valid_uscc(code) == first17[2:8].isdigit()


def test_exactly_one_check_char_fits():
    rng = random.Random(3)
    for _ in range(200):
        first17 = "91" + "".join(rng.choice("0123456789") for _ in range(6)) + "".join(
            rng.choice(USCC_ALPHABET) for _ in range(9)
        )
        assert sum(is_valid_uscc(first17 + ch) for ch in USCC_ALPHABET) == 1
