"""Resource limits every template runs under, so no template can hang or exhaust a render.

    with render_budget("template 'x' at 1200x400"):   # one banner: 2 s of template code, ...
        with evaluating(where):                        # ... counted while template code runs
            ...

A budget lives for one banner (the outermost ``render_budget`` wins; the expressions rendered
inside it share its 2 s). The sandbox consults it on every loop iteration, call and
intercepted operator, so a nested loop over a repeated title stops at the deadline instead of
running for hours, and a string product is refused before Python allocates it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2.sandbox import SecurityError

MAX_RENDER_SECONDS = 2.0  # per banner: every expression, the HTML and the composition
MAX_HTML_CHARS = 1_000_000  # one banner.html.j2 output (about 1 MB of ASCII)
MAX_TEXT_CHARS = 4_000  # one layout text, headline or condition result drawn by Pillow
MAX_VALUE_CHARS = MAX_HTML_CHARS  # any string or list a template builds while rendering
MAX_LOOP_ITERATIONS = 200_000  # every {% for %} iteration of one banner together
MAX_CANVAS_SIDE = 4096  # pixels, a side of a 1x size in template.toml
MAX_SCALED_SIDE = 8192  # pixels, a side at 2x or 3x (a 3x of 4096x4096 would need 600 MB per banner)
MAX_INCLUDE_DEPTH = 4  # {% include %} / {% import %} chains in banner.html.j2 (checked statically)
MAX_INCLUDES = 64  # templates loaded while rendering one banner (a file that includes itself stops here)
MAX_NUMBER_ARGUMENT = 10_000  # widths and counts passed to filters and methods (center(10**9))
MAX_POWER_BITS = 4_096  # a ** b with a result beyond this many bits is refused


class LimitExceeded(SecurityError):
    """A template went over one of its resource limits (a SecurityError: the sandbox refused it)."""


@dataclass
class Budget:
    """What one banner may still spend. The clock runs only while template code runs (inside
    ``evaluating``), so encoding and text fitting of a large banner on a busy machine never count
    against the template."""

    where: str
    seconds: float = MAX_RENDER_SECONDS
    spent: float = 0.0
    iterations: int = 0
    includes: list[str] = field(default_factory=list)
    _started: float | None = None

    def include(self, name: str) -> None:
        self.includes.append(name)
        if len(self.includes) > MAX_INCLUDES:
            raise LimitExceeded(
                f"more than {MAX_INCLUDES} includes in one banner ('{name}' again and again: "
                "does a file include itself?)"
            )
        self.tick()

    def tick(self, count: int = 1) -> None:
        self.iterations += count
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise LimitExceeded(f"more than {MAX_LOOP_ITERATIONS:,} loop iterations in one banner")
        if self._started is not None and self.spent + time.monotonic() - self._started > self.seconds:
            raise LimitExceeded(f"rendering took longer than {self.seconds:g} s")


_ACTIVE: ContextVar[Budget | None] = ContextVar("bannergen_template_budget", default=None)


@contextmanager
def render_budget(where: str, seconds: float = MAX_RENDER_SECONDS) -> Iterator[Budget]:
    """The budget of one banner; nested calls share the outermost one."""
    active = _ACTIVE.get()
    if active is not None:
        yield active
        return
    budget = Budget(where, seconds)
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


@contextmanager
def evaluating(where: str) -> Iterator[Budget]:
    """Run template code against the banner's budget (a budget of its own outside a banner),
    with the clock running; nested evaluations are timed once."""
    with render_budget(where) as budget:
        if budget._started is not None:
            yield budget
            return
        budget._started = time.monotonic()
        try:
            yield budget
        finally:
            budget.spent += time.monotonic() - budget._started
            budget._started = None


def active() -> Budget | None:
    """The budget of the banner being rendered, None outside a render."""
    return _ACTIVE.get()


def tick(count: int = 1) -> None:
    """Spend ``count`` steps of the active budget (nothing outside a render)."""
    budget = _ACTIVE.get()
    if budget is None:
        return
    budget.tick(count)


def bounded_iter(iterable: Any) -> Iterator[Any]:
    """What every ``{% for %}`` of a sandboxed template iterates over: one tick per item."""
    budget = _ACTIVE.get()
    for item in iterable:
        if budget is not None:
            budget.tick()
        yield item


def check_size(value: Any, what: str, limit: int = MAX_VALUE_CHARS) -> Any:
    """``value`` when it is not a string or sequence longer than ``limit``."""
    if isinstance(value, (str, bytes, list, tuple, dict)) and len(value) > limit:
        raise LimitExceeded(f"{what} would be {len(value):,} long, above the limit of {limit:,}")
    return value


def check_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], what: str) -> None:
    """Refuse numbers that size an output (widths, counts) and oversized strings among arguments."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARGUMENT:
            raise LimitExceeded(f"{what}: argument {value} is above the limit of {MAX_NUMBER_ARGUMENT:,}")
        check_size(value, f"{what}: an argument")


def check_repeat(operator: str, left: Any, right: Any) -> None:
    """Refuse ``'x' * 10**9`` (and ``[..] * n``) and ``10 ** 10 ** 10`` before they are computed."""
    import math

    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if (isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int)
                    and len(seq) * max(count, 0) > MAX_VALUE_CHARS):
                raise LimitExceeded(
                    f"'*' would build a value of {len(seq) * count:,} items, above the limit of {MAX_VALUE_CHARS:,}"
                )
    elif operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
        if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > MAX_POWER_BITS:
            raise LimitExceeded(f"'{left} ** {right}' is too large to compute")
    elif operator == "%" and isinstance(left, str):
        check_format_string(left)


def check_format_string(text: str) -> None:
    """Refuse a format string with a width or precision above MAX_NUMBER_ARGUMENT ('%999999999s')."""
    import re

    for digits in re.findall(r"\d+", text):
        if len(digits) > 5 and int(digits) > MAX_NUMBER_ARGUMENT:
            raise LimitExceeded(f"format width {digits} is above the limit of {MAX_NUMBER_ARGUMENT:,}")
