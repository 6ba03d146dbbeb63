"""Returning freed memory to the operating system between the stages of a large run."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys


def release_free_memory() -> None:
    """Hand the heap that loading and fitting freed back to the operating system, so fitting starts
    from the shop's size and scoring from the live model's, not from the previous stage's peak.
    Both allocators keep freed memory otherwise: glibc's heap, and Arrow's pool (a Parquet read of
    5M events leaves ~600 MB there after its columns became pandas arrays)."""
    gc.collect()
    arrow = sys.modules.get("pyarrow")  # only if something loaded it: no import for CSV shops
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim, nothing lost
        ctypes.CDLL("libc.so.6").malloc_trim(0)
