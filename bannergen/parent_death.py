"""Worker processes that end with the process that started them, even after its kill -9.

A render's workers are forked; when the render is killed outright nothing tells them, so they
would live on (adopted by pid 1, a renderer's memory each) and a supervisor that restarts renders
would pile them up. On Linux the kernel sends the worker a signal when its parent dies
(PR_SET_PDEATHSIG); elsewhere a daemon thread polls the parent's pid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
POLL_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Make the calling process end when ``parent_pid`` (its parent) ends. Call it first thing in
    a worker. If the parent is already gone (it died between the fork and this call, before the
    kernel could be told), the worker ends now."""
    if not _ask_the_kernel():
        threading.Thread(target=_watch, args=(parent_pid,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:
        os._exit(1)


def _ask_the_kernel() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    os._exit(1)
