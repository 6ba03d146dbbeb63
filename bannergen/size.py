"""A banner size in pixels, and its "WxH" text form.

Size is a named (width, height) tuple: it equals, hashes and serialises (JSON: [w, h]) like the
plain tuple, so sizes key the same dicts and give the same variant ids whichever form a caller
holds.

    >>> size = Size.parse("1200x400")
    >>> size.width, size.height
    (1200, 400)
    >>> str(size), str(size.double())
    ('1200x400', '2400x800')
    >>> size == (1200, 400)
    True
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TEXT = re.compile(r"^(\d+)x(\d+)$")


class Size(NamedTuple):
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """"1200x400" -> Size(1200, 400). Raises ValueError naming the text for anything else
        (a zero side, spaces, "X", a missing side)."""
        match = _TEXT.match(text) if isinstance(text, str) else None
        if not match or int(match.group(1)) == 0 or int(match.group(2)) == 0:
            raise ValueError(f"size must look like '1200x400'; got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"

    def scaled(self, k: int) -> Size:
        """Both sides times ``k`` (the pixels of a @kx rendition)."""
        return Size(self.width * k, self.height * k)

    def double(self) -> Size:
        """The @2x rendition of this size."""
        return self.scaled(2)
