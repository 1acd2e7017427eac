"""Vectorised check digits against scalar generators written from the standards."""

from __future__ import annotations

import random
from datetime import date

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dq_support import (
    STANDARD_EXAMPLE_ID,
    id_check,
    luhn_digit,
    random_card,
    random_resident_id,
    random_uscc,
    wrong_check,
)

from gaodi.engines.dataquality import synthetic
from gaodi.engines.dataquality.checksums import (
    char_matrix,
    luhn_ok,
    resident_id_check_ok,
    resident_id_structure_ok,
    uscc_check_ok,
)
from gaodi.engines.identifiers import USCC_ALPHABET, is_valid_uscc


def _codes(values: list[str]) -> np.ndarray:
    return char_matrix(pl.Series(values, dtype=pl.String), len(values[0]))


def test_standard_example_passes_and_every_other_check_character_fails():
    candidates = [STANDARD_EXAMPLE_ID[:17] + c for c in "0123456789X"]
    ok = resident_id_check_ok(_codes(candidates))
    assert ok.tolist() == [c == "X" for c in "0123456789X"]
    # lower-case x is accepted as X
    assert resident_id_check_ok(_codes([STANDARD_EXAMPLE_ID[:17] + "x"])).tolist() == [True]


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_resident_id_check_matches_scalar_generator(seed):
    rng = random.Random(seed)
    valid = [random_resident_id(rng) for _ in range(50)]
    invalid = [wrong_check(v) for v in valid]
    assert resident_id_check_ok(_codes(valid)).all()
    assert not resident_id_check_ok(_codes(invalid)).any()
    assert resident_id_structure_ok(_codes(valid), latest=date(2024, 12, 31)).all()


def test_resident_id_structure_rejects_bad_dates_and_provinces():
    ids = [
        "110105" + "19490229" + "002",  # 1949 is not a leap year
        "110105" + "20000229" + "002",  # 2000 is
        "990105" + "19491231" + "002",  # no province 99
        "110105" + "18991231" + "002",  # before 1900
        "110105" + "20300101" + "002",  # in the future
        "310104" + "19881301" + "002",  # month 13
    ]
    ids = [i + id_check(i) for i in ids]
    assert resident_id_structure_ok(_codes(ids), latest=date(2024, 6, 1)).tolist() == [
        False, True, False, False, False, False
    ]


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([16, 17, 18, 19]))
def test_luhn_matches_scalar_generator(seed, length):
    rng = random.Random(seed)
    cards = [random_card(rng, length) for _ in range(40)]
    assert luhn_ok(_codes(cards)).all()
    broken = [c[:-1] + str((int(c[-1]) + rng.randint(1, 9)) % 10) for c in cards]
    assert not luhn_ok(_codes(broken)).any()
    assert luhn_ok(_codes(["4111111111111111"])).tolist() == [True]
    assert luhn_digit("411111111111111") == "1"


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_uscc_check_agrees_with_the_scalar_identifiers_module(seed):
    rng = random.Random(seed)
    codes = [random_uscc(rng) for _ in range(40)]
    assert uscc_check_ok(_codes(codes)).all()
    broken = [wrong_check(c, USCC_ALPHABET) for c in codes]
    assert not uscc_check_ok(_codes(broken)).any()
    assert [is_valid_uscc(c) for c in broken] == [False] * len(broken)
    # published codes (from business licences) pass
    assert uscc_check_ok(_codes(["91350100M000100Y43", "91110108551385082Q", "9144030071526726XG"])).all()
    # letters outside the code alphabet fail
    assert not uscc_check_ok(_codes(["91350100M000100Y4I"])).any()


def test_synthetic_generators_pass_the_scalar_checks():
    rng = np.random.default_rng(7)
    ids = synthetic.resident_ids(500, rng).to_list()
    assert all(i[-1] == id_check(i[:17]) for i in ids)
    usccs = synthetic.usccs(500, rng).to_list()
    assert all(is_valid_uscc(c) for c in usccs)
    cards = synthetic.bank_cards(500, rng).to_list()
    assert {len(c) for c in cards} == {16, 19}
    assert all(c[-1] == luhn_digit(c[:-1]) for c in cards)
    bad = synthetic.resident_ids(2000, rng, bad_check_fraction=0.5).to_list()
    wrong = sum(i[-1] != id_check(i[:17]) for i in bad)
    assert 800 < wrong < 1200
    mobiles = synthetic.mobiles(100, rng).to_list()
    assert all(len(m) == 11 and m[0] == "1" and m[1] in "3456789" for m in mobiles)
    plates = synthetic.plates(200, rng).to_list()
    assert {len(p) for p in plates} == {7, 8}
