"""Checks of option values that name the bad value and what is valid (with a close match).

Every check raises :class:`~berg.errors.InvalidParameterError` and returns the value, so a
caller can write ``self.speed = check_int("speed", speed, minimum=80, maximum=500)``;
`is_int` and `is_number` are the same tests as predicates, for values inside a larger one
(the items of a list) whose message names the whole. ``bool`` is never accepted as a number
(``True`` is an ``int`` in Python); NumPy's integer and float scalars are.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from berg.errors import InvalidParameterError, did_you_mean, format_choices

__all__ = ["check_bool", "check_choice", "check_int", "check_number", "is_int", "is_number"]


def is_int(value: object, *, minimum: int | None = None) -> bool:
    """Whether ``value`` is an integer (Python or NumPy, not a bool), ``>= minimum``."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
    )


def is_number(value: object, *, finite: bool = True) -> bool:
    """Whether ``value`` is a real number (Python or NumPy, not a bool), finite if asked."""
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and (not finite or math.isfinite(value))
    )


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is True or False."""
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name} must be True or False, got {value!r}")
    return value


def _range(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f" >= {minimum:g}"
    return f" <= {maximum:g}" if maximum is not None else ""


def check_int(
    name: str,
    value: object,
    *,
    minimum: int | None = 1,
    maximum: int | None = None,
    none: str | None = None,
) -> int | None:
    """``value`` if it is an int within the bounds; None too when ``none`` says what it means.

    Parameters
    ----------
    none : str, optional
        What None stands for (``"automatic"``); None is refused when not given.
    """
    if value is None and none is not None:
        return None
    if not is_int(value, minimum=minimum) or (maximum is not None and value > maximum):
        kind = (
            "a positive int"
            if minimum == 1 and maximum is None
            else f"an int{_range(minimum, maximum)}"
        )
        raise InvalidParameterError(f"{name} must be {_or_none(none)}{kind}, got {value!r}")
    return int(value)  # a NumPy integer becomes a Python one (JSON, hashing)


def _or_none(none: str | None) -> str:
    return "" if none is None else f"None ({none}) or "


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    none: str | None = None,
) -> float | None:
    """``value`` if it is a finite number within the bounds (``positive``: > 0)."""
    if value is None and none is not None:
        return None
    ok = (
        is_number(value)
        and not (positive and value <= 0)
        and not (minimum is not None and value < minimum)
        and not (maximum is not None and value > maximum)
    )
    if not ok:
        kind = f"{'a positive number' if positive else 'a number'}{_range(minimum, maximum)}"
        raise InvalidParameterError(f"{name} must be {_or_none(none)}{kind}, got {value!r}")
    return value if isinstance(value, (int, float)) else float(value)  # NumPy -> Python


def check_choice(name: str, value: object, choices: Sequence[Any], *, what: str = "") -> Any:
    """``value`` if it is one of ``choices``; else the error lists them and the closest."""
    if value not in choices:
        close = did_you_mean(value, [str(c) for c in choices]) if isinstance(value, str) else ""
        raise InvalidParameterError(
            f"unknown {name} {value!r}{close} (valid: {format_choices(choices)}{what})"
        )
    return value
