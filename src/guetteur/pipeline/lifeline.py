"""A worker process's tie to the process that started it: the worker dies with its parent.

A worker whose parent was killed hard (SIGKILL, OOM killer) must not live on: it would hold
its database connection and the batches it was given, ignore SIGTERM (workers ignore it, see
`worker.worker_main`) and keep running beside the next generation's workers.

On Linux, `tie_to_parent` asks the kernel to SIGKILL the worker when its parent goes
(`prctl(PR_SET_PDEATHSIG, SIGKILL)`). The signal fires when the *thread* that started the
worker exits, not only the process: the pipeline starts workers from its event-loop thread,
which lives as long as the pipeline. The parent may already be gone when the worker makes the
call, so the worker then checks that its parent is still the process that started it.
Elsewhere (and as a second line on Linux), `parent_alive` is polled whenever the worker is
idle or waiting to retry.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def expected_parent() -> int:
    """The pid of the process that started this one (multiprocessing's record of it, which
    does not change when the parent dies, unlike `os.getppid()`)."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        return parent.pid
    return os.getppid()


def parent_alive(parent: int) -> bool:
    """Whether `parent` is still this process's parent (an orphan is adopted by another)."""
    return os.getppid() == parent


def tie_to_parent(parent: int) -> bool:
    """Have the kernel kill this process when its parent dies (Linux); then exit at once if
    the parent is already gone. Returns whether the kernel will do it (False elsewhere: rely
    on polling `parent_alive`)."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
            if not armed:
                log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except (OSError, AttributeError) as exc:
            log.warning("prctl unavailable (%s); polling the parent instead", exc)
    if not parent_alive(parent):  # it died before the call: the kernel will not tell
        log.error("the main process %d is gone before this worker started; exiting", parent)
        os._exit(1)
    return armed
