"""Working days under the official PRC holiday calendar (State Council notices).

Statutory deadlines (e.g. "within 20 working days") skip public holidays and
count the weekend days that the State Council declares as make-up working
days. The ``chinese_calendar`` package carries those notices per year.

Fallback: for years the package has no data for (it raises
NotImplementedError; typically before 2004, or next year before the State
Council publishes its notice, usually in November) we treat Monday-Friday as
working days. Results for such years are therefore provisional and will
change once the package is upgraded with the official schedule.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

_ONE_DAY = timedelta(days=1)


def is_working_day(d: date) -> bool:
    """True if ``d`` is an official working day (Mon-Fri fallback outside the data)."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return d.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The n-th working day after ``start``; for n == 0, ``start`` or the next working day."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    day = start
    if n == 0:
        while not is_working_day(day):
            day += _ONE_DAY
        return day
    while n > 0:
        day += _ONE_DAY
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative (-count of (end, start]) if end < start."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:  # step first, so date.max never overflows
        day += _ONE_DAY
        count += is_working_day(day)
    return count
