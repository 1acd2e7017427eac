"""Working days against the official calendar (chinese_calendar data)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaodi.engines.workdays import add_working_days, is_working_day, working_days_between

NATIONAL_DAY_2025 = [date(2025, 10, d) for d in range(1, 9)]


def test_national_day_2025_is_a_holiday() -> None:
    assert not any(is_working_day(d) for d in NATIONAL_DAY_2025)
    assert is_working_day(date(2025, 9, 30))
    assert is_working_day(date(2025, 10, 9))


def test_adjusted_weekend_working_days_2025() -> None:
    assert date(2025, 9, 28).weekday() == 6 and is_working_day(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and is_working_day(date(2025, 10, 11))
    # An ordinary weekend stays a rest day.
    assert not is_working_day(date(2025, 10, 12))


def test_spring_festival_2026() -> None:
    # State Council notice: 15-23 Feb 2026 off; Sat 14 Feb and Sat 28 Feb worked.
    assert not any(is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert is_working_day(date(2026, 2, 14))
    assert is_working_day(date(2026, 2, 28))
    assert is_working_day(date(2026, 2, 24))


def test_add_working_days_across_national_day() -> None:
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert add_working_days(date(2025, 9, 30), 3) == date(2025, 10, 11)
    assert add_working_days(date(2025, 9, 27), 1) == date(2025, 9, 28)


def test_add_zero_working_days() -> None:
    assert add_working_days(date(2025, 9, 30), 0) == date(2025, 9, 30)
    assert add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 9)


def test_add_negative_working_days_rejected() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2025, 9, 30), -1)


def test_working_days_between() -> None:
    assert working_days_between(date(2025, 9, 30), date(2025, 10, 9)) == 1
    assert working_days_between(date(2025, 9, 26), date(2025, 10, 11)) == 6  # 28, 29, 30 Sep + 9, 10, 11 Oct
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0
    assert working_days_between(date(2025, 10, 9), date(2025, 9, 30)) == -1
    assert working_days_between(date(2025, 9, 30), date(2025, 9, 30)) == 0
    assert working_days_between(date.max - timedelta(days=1), date.max) == 1  # 9999-12-31 is a Friday


def test_years_outside_data_fall_back_to_monday_to_friday() -> None:
    # 2035: no official schedule in the package, so 1 Oct (Monday) counts as a working day.
    assert date(2035, 10, 1).weekday() == 0 and is_working_day(date(2035, 10, 1))
    assert not is_working_day(date(2035, 10, 6))
    assert is_working_day(date(1999, 10, 1))  # Friday, before the package data starts
    assert add_working_days(date(2035, 10, 5), 1) == date(2035, 10, 8)


@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    st.integers(min_value=1, max_value=60),
)
def test_add_and_between_are_inverse(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert is_working_day(end)
    assert working_days_between(start, end) == n
    assert working_days_between(end, start) == -n
