"""The filters a template may use: a short list of Jinja's own, plus number formatting.

Only the filters named here exist in the sandbox (docs/templates.md lists them; a test keeps the
two in step). Each is wrapped so that a width or count above the limit (``center(10**9)``) is
refused before it is computed, and so that no filter returns a value above the size limit.

The formatting filters turn the numbers of the banner context into display text:

    {{ saving_value | yuan }}        ¥1,000       (¥1,000.50 when not whole)
    {{ discount_pct | percent }}     17%
    {{ discount_pct | zhe }}         8.3折        (the Chinese way to say 17% off)
    {{ price_value | thousands }}    4,999
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import bannergen.templating.limits as limits

# Jinja's own filters that stay available: text shaping, sequences, numbers, escaping.
JINJA_FILTERS: tuple[str, ...] = (
    "abs", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
    "forceescape", "int", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string",
    "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
)


def format_cny(value: float, decimals: int | None = None) -> str:
    """¥4,999 for whole yuan, ¥4,999.50 otherwise (or exactly ``decimals`` places when given)."""
    value = float(value)
    if not math.isfinite(value):
        return ""
    if decimals is not None:
        return f"¥{value:,.{int(decimals)}f}"
    if math.isclose(value, round(value), abs_tol=0.005):
        return f"¥{round(value):,}"
    return f"¥{value:,.2f}"


def format_percent(value: float, decimals: int = 0) -> str:
    """17 -> "17%"; the value is already in percent (discount_pct)."""
    return f"{float(value):.{int(decimals)}f}%"


def format_zhe(value: float) -> str:
    """A discount in percent as the Chinese 折 price ratio: 17 -> "8.3折", 20 -> "8折", 0 -> ""."""
    pct = float(value)
    if not 0 < pct < 100:
        return ""
    ratio = (100 - pct) / 10
    return f"{ratio:.1f}".rstrip("0").rstrip(".") + "折"


def format_thousands(value: float, decimals: int = 0) -> str:
    """4999 -> "4,999"; 4999.5 with decimals=2 -> "4,999.50"."""
    return f"{float(value):,.{int(decimals)}f}"


FORMAT_FILTERS: dict[str, Callable[..., str]] = {
    "yuan": format_cny,
    "percent": format_percent,
    "zhe": format_zhe,
    "thousands": format_thousands,
}

ALLOWED_FILTERS: tuple[str, ...] = tuple(sorted((*JINJA_FILTERS, *FORMAT_FILTERS, "safe_url")))


def _bounded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg, so context/environment filters still get theirs
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        limits.tick()
        limits.check_arguments(args[1:], kwargs, f"filter '{name}'")
        return limits.check_size(function(*args, **kwargs), f"filter '{name}'")

    return wrapper


def bounded_filters(env_filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """{name: filter} for a sandbox: the allowed Jinja filters of ``env_filters`` and the
    formatting filters, each bounded (``safe`` and ``escape`` only mean something in HTML but
    are harmless in text). ``safe_url`` is the sandbox's own."""
    chosen: dict[str, Callable[..., Any]] = {name: env_filters[name] for name in JINJA_FILTERS}
    chosen.update(FORMAT_FILTERS)
    return {name: _bounded(name, function) for name, function in chosen.items()}
