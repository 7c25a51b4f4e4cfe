"""An SSE-like trading calendar: weekdays minus generated Chinese public holidays.

The holidays follow the shape of the real SSE closures, computed from rules rather than looked up, so the
calendar exists for any year (listing dates before the history need it too):

- New Year: 1 January (a weekend 1 January closes the Monday after).
- Spring Festival: the weekdays from the eve to the sixth day of the lunar new year (5-6 weekdays). The lunar
  new year is the first Beijing-time *mean* new moon on or after 21 January (Meeus' mean lunation), which
  matches the real date to within a day.
- Qingming: 4 April in leap years and the year after, else 5 April.
- Labour Day: 1-3 May (1-5 May from 2020).
- Dragon Boat (lunar 5/5) and Mid-Autumn (lunar 8/15): one day each, from the same lunar new year, clamped into
  June and September.
- National Day: 1-7 October.

A one-day holiday on a weekend moves to the nearest weekday (Saturday -> Friday, Sunday -> Monday); one on a
Tuesday also closes the Monday before and one on a Thursday the Friday after ("bridge" days). The result has
240-245 open days a year, like the real SSE calendar.

Dates are numpy ``datetime64[D]`` throughout; strings are ``YYYYMMDD``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import numpy as np

_SYNODIC_MONTH = 29.530588861
_NEW_MOON_JDE_2000 = 2451550.09766  # Meeus, Astronomical Algorithms, eq. 49.1 (k = 0: 2000-01-06)
_JD_UNIX_EPOCH = 2440587.5


def lunar_new_year(year: int) -> date:
    """Approximate Chinese New Year of ``year``: the first Beijing-time mean new moon on or after 21 Jan."""
    earliest = date(year, 1, 21)
    jd_earliest = _JD_UNIX_EPOCH + (earliest - date(1970, 1, 1)).days
    k = np.ceil((jd_earliest - 8.0 / 24.0 - _NEW_MOON_JDE_2000) / _SYNODIC_MONTH) - 1
    while True:
        jd_beijing = _NEW_MOON_JDE_2000 + k * _SYNODIC_MONTH + 8.0 / 24.0
        day = date(1970, 1, 1) + timedelta(days=int(np.floor(jd_beijing - _JD_UNIX_EPOCH)))
        if day >= earliest:
            return day
        k += 1


def _one_day(day: date) -> list[date]:
    """A one-day holiday with its weekend move and bridge day."""
    wd = day.weekday()  # Monday 0 .. Sunday 6
    if wd == 5:
        return [day - timedelta(days=1)]
    if wd == 6:
        return [day + timedelta(days=1)]
    if wd == 1:
        return [day - timedelta(days=1), day]
    if wd == 3:
        return [day, day + timedelta(days=1)]
    return [day]


def _block(first: date, n_calendar_days: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n_calendar_days)]


@cache
def holidays(year: int) -> frozenset[date]:
    """Weekday closures attributed to ``year``'s holidays (a bridge day may fall in the year before)."""
    ny = date(year, 1, 1)
    days: list[date] = _one_day(ny)
    cny = lunar_new_year(year)
    days += _block(cny - timedelta(days=1), 7)
    days += _one_day(date(year, 4, 4 if year % 4 in (0, 1) else 5))
    days += _block(date(year, 5, 1), 5 if year >= 2020 else 3)
    dragon = cny + timedelta(days=122)
    dragon = min(max(dragon, date(year, 6, 1)), date(year, 6, 28))
    days += _one_day(dragon)
    mid_autumn = cny + timedelta(days=221)
    mid_autumn = min(max(mid_autumn, date(year, 9, 2)), date(year, 9, 29))
    days += _one_day(mid_autumn)
    days += _block(date(year, 10, 1), 7)
    return frozenset(d for d in days if d.weekday() < 5)


def open_days_between(first: np.datetime64, last: np.datetime64) -> np.ndarray:
    """All open days d with first <= d <= last, ascending, as ``datetime64[D]``."""
    first = np.datetime64(first, "D")
    last = np.datetime64(last, "D")
    if last < first:
        return np.empty(0, dtype="datetime64[D]")
    days = np.arange(first, last + 1, dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    y0 = int(str(first)[:4])
    y1 = int(str(last)[:4])
    closed = set()
    for y in range(y0 - 1, y1 + 2):
        closed |= holidays(y)
    closed_arr = np.array(sorted(closed), dtype="datetime64[D]")
    is_open = (weekday < 5) & ~np.isin(days, closed_arr)
    return days[is_open]


def open_days_from(start: np.datetime64, n: int) -> np.ndarray:
    """The first ``n`` open days on or after ``start``, as ``datetime64[D]``."""
    start = np.datetime64(start, "D")
    span = int(n * 366 / 235) + 30
    while True:
        days = open_days_between(start, start + span)
        if len(days) >= n:
            return days[:n]
        span *= 2


def previous_open_day(day: np.datetime64) -> np.datetime64:
    """The last open day strictly before ``day``."""
    day = np.datetime64(day, "D")
    days = open_days_between(day - 40, day - 1)
    return days[-1]


def parse_yyyymmdd(s: str) -> np.datetime64:
    """'20100104' -> numpy.datetime64('2010-01-04')."""
    return np.datetime64(f"{s[:4]}-{s[4:6]}-{s[6:8]}", "D")


def to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """``datetime64[D]`` array -> array of 'YYYYMMDD' Python strings (object dtype)."""
    days = np.asarray(days, dtype="datetime64[D]")
    if days.size == 0:
        return np.empty(days.shape, dtype=object)
    return np.char.replace(np.datetime_as_string(days, unit="D"), "-", "").astype(object)


def trade_cal_columns(start: np.datetime64, open_days: np.ndarray) -> dict[str, np.ndarray]:
    """Columns of Tushare ``trade_cal`` for every calendar date from ``start`` to the last open day.

    ``pretrade_date`` is the previous open day, on closed days too (the first rows use the open days before
    ``start``). Returns exchange, cal_date, is_open (int64 0/1), pretrade_date.
    """
    start = np.datetime64(start, "D")
    last = open_days[-1]
    cal = np.arange(start, last + 1, dtype="datetime64[D]")
    is_open = np.isin(cal, open_days)
    opens = np.concatenate([[previous_open_day(start)], open_days[open_days >= start]])
    # previous open day strictly before each calendar date
    prev = opens[np.searchsorted(opens, cal, side="left") - 1]
    return {
        "exchange": np.full(len(cal), "SSE", dtype=object),
        "cal_date": to_yyyymmdd(cal),
        "is_open": is_open.astype(np.int64),
        "pretrade_date": to_yyyymmdd(prev),
    }
