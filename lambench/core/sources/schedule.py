"""Schedule expressions: `rate(...)`, `cron(...)` (EventBridge's six fields) and Scheduler's `at(...)`.

`parse_schedule` checks an expression and returns a `Schedule` whose `next_after(t)` is the next
firing time after `t` (None when a one-off `at` has passed or a cron's years have run out). cron
fields are minutes, hours, day of month, month, day of week and year; one of the two day fields
must be `?`. Supported: `*`, `?`, lists, ranges, `/` steps, month and weekday names, `L` (last day
of the month, or `5L` the last Thursday), `W` (nearest weekday), `LW` and `#` (`6#3`, the third Friday).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone, tzinfo

from lambench.core.record import record

_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON_RE = re.compile(r"^cron\((.*)\)$")
_AT_RE = re.compile(r"^at\((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): index for index, name in enumerate(calendar.month_abbr) if name}
_WEEKDAYS = {name: index + 1 for index, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
#: How far ahead a cron is searched for its next match (the year field ends at 2199 anyway).
_SEARCH_DAYS = 366 * 5


class ScheduleError(ValueError):
    """An expression lambench cannot read; the message is AWS's kind of explanation."""


@record(frozen=True)
class Schedule:
    """A parsed expression. `period_s` is set for rates; `at` for one-off schedules."""

    expression: str
    zone: tzinfo
    period_s: int | None = None
    at: datetime | None = None
    fields: tuple[frozenset[int] | str, ...] = ()

    def next_after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after `moment` (an aware datetime)."""
        if self.period_s is not None:
            return moment + timedelta(seconds=self.period_s)
        if self.at is not None:
            return self.at if self.at > moment else None
        return _next_cron(self.fields, moment.astimezone(self.zone))


def parse_schedule(expression: str, zone_name: str = "UTC") -> Schedule:
    """Read `expression` (in the time zone `zone_name`, an IANA name); `ScheduleError` if it is not valid."""
    zone = _zone(zone_name)
    text = expression.strip()
    rate = _RATE_RE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ScheduleError(f"{expression!r}: the rate must be a positive whole number")
        # AWS insists on the singular for 1 and the plural otherwise.
        if (value == 1) != (not unit.endswith("s")):
            wanted = unit.rstrip("s") if value == 1 else unit.rstrip("s") + "s"
            raise ScheduleError(f"{expression!r}: write rate({value} {wanted})")
        return Schedule(text, zone, period_s=value * _UNIT_SECONDS[unit.rstrip("s")])
    at = _AT_RE.match(text)
    if at:
        try:
            year, month, day, hour, minute, second = (int(part) for part in at.groups())
            moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError as exc:
            raise ScheduleError(f"{expression!r}: {exc}") from None
        return Schedule(text, zone, at=moment)
    cron = _CRON_RE.match(text)
    if cron:
        return Schedule(text, zone, fields=_cron_fields(cron.group(1), expression))
    raise ScheduleError(
        f"{expression!r} is not a schedule expression; use rate(5 minutes), cron(0 12 * * ? *) or "
        "at(2026-12-31T23:59:00)"
    )


def _zone(name: str) -> tzinfo:
    if name in ("UTC", "Etc/UTC", ""):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{name!r} is not a time zone; use an IANA name such as Europe/Paris") from None


def _cron_fields(body: str, expression: str) -> tuple[frozenset[int] | str, ...]:
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"{expression!r}: a cron expression has six fields (minutes hours day-of-month month "
            f"day-of-week year), not {len(parts)}"
        )
    minutes, hours, dom, month, dow, year = parts
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    return (
        _field(minutes, 0, 59, {}, expression, "minutes"),
        _field(hours, 0, 23, {}, expression, "hours"),
        dom if _special_day(dom) else _field(dom, 1, 31, {}, expression, "day-of-month"),
        _field(month, 1, 12, _MONTHS, expression, "month"),
        dow if _special_day(dow) else _field(dow, 1, 7, _WEEKDAYS, expression, "day-of-week"),
        _field(year, 1970, 2199, {}, expression, "year"),
    )


def _special_day(text: str) -> bool:
    return text == "?" or "L" in text.upper() or "W" in text.upper() or "#" in text


def _field(
    text: str, low: int, high: int, names: dict[str, int], expression: str, what: str
) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"{expression!r}: {what}: {step_text!r} is not a step")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names, expression, what), _value(last, names, expression, what)
        else:
            start = _value(part, names, expression, what)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{expression!r}: {what} must be within {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int], expression: str, what: str) -> int:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"{expression!r}: {what}: {text!r} is not a value")
    return int(text)


def _next_cron(fields: tuple[frozenset[int] | str, ...], moment: datetime) -> datetime | None:
    minutes, hours, dom, months, dow, years = fields
    assert isinstance(minutes, frozenset) and isinstance(hours, frozenset)
    assert isinstance(months, frozenset) and isinstance(years, frozenset)
    start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.date()
    for _ in range(_SEARCH_DAYS):
        if day.year in years and day.month in months and _day_matches(dom, dow, day.year, day.month, day.day):
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=moment.tzinfo)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
        if day.year > max(years):
            return None
    return None


def _day_matches(
    dom: frozenset[int] | str, dow: frozenset[int] | str, year: int, month: int, day: int
) -> bool:
    last = calendar.monthrange(year, month)[1]
    weekday = (calendar.weekday(year, month, day) + 1) % 7 + 1  # SUN=1 ... SAT=7
    if dom != "?":
        if isinstance(dom, frozenset):
            return day in dom
        text = dom.upper()
        if text == "L":
            return day == last
        if text == "LW":
            return day == _nearest_weekday(year, month, last, last)
        if text.endswith("W"):
            return day == _nearest_weekday(year, month, min(int(text[:-1]), last), last)
        return False
    if isinstance(dow, frozenset):
        return weekday in dow
    text = dow.upper()
    if text.endswith("L"):
        wanted = _WEEKDAYS.get(text[:-1]) or int(text[:-1] or 7)
        return weekday == wanted and day + 7 > last
    if "#" in text:
        name, nth = text.split("#", 1)
        wanted = _WEEKDAYS.get(name) or int(name)
        return weekday == wanted and (day - 1) // 7 + 1 == int(nth)
    return False


def _nearest_weekday(year: int, month: int, target: int, last: int) -> int:
    weekday = calendar.weekday(year, month, target)  # Monday=0
    if weekday == 5:  # Saturday: Friday before, unless that leaves the month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: Monday after, unless that leaves the month
        return target + 1 if target < last else target - 2
    return target
