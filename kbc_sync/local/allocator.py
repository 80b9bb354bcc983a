"""Keep the C allocator from holding on to the stack's large short-lived buffers.

moto reads a whole S3 object into one bytes value for every PUT and GET, so each slice in
flight costs a few buffers of its size (megabytes). glibc serves such a block with `mmap`, but
after the first one is freed it raises its threshold up to 32 MB, and later blocks come from
the per-thread heaps instead, which keep the freed memory. With many threads that retained
memory grew with the number of slices moved: 5M rows took about 150 MB more than 1M rows.
A fixed 1 MB threshold hands every block of a megabyte or more straight back to the system,
while DuckDB's 256 KB blocks stay in the heaps, where they are fast.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform

logger = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1024 * 1024


def return_large_blocks() -> bool:
    """Set glibc's mmap threshold to 1 MB for this process; return whether it was set.

    Only for a process that is the stack (`kbc-sync local`): it changes the allocator of the
    whole process. A `MALLOC_MMAP_THRESHOLD_` in the environment wins, and on other C
    libraries nothing changes.
    """
    if platform.libc_ver()[0] != "glibc" or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    logger.debug("glibc mmap threshold %d bytes: %s", MMAP_THRESHOLD_BYTES, done)
    return done
