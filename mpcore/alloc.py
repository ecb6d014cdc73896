"""Allocator tuning for party processes. Imports the standard library only.

The engine allocates and frees many large numpy arrays (shares, messages,
PRG output). glibc serves blocks above its mmap threshold with a fresh
mmap and unmaps them on free, so every such array is page-faulted in again
on first touch; on a virtual machine a fault costs about a microsecond per
4 KB page, which made two 1.3 MB temporaries cost 1 ms instead of 0.05 ms.
`tune()` raises the mmap threshold and the trim threshold (mallopt), so
freed blocks stay in the heap and are reused without faults. Called once
per party (mpcore.launcher). No-op where glibc is not available.
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 30        # blocks up to 1 GB come from the heap
TRIM_THRESHOLD = 1 << 30        # keep up to 1 GB of freed heap memory

_done = False


def tune():
    """Apply the mallopt settings once per process; returns True if applied."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
              and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    except (OSError, AttributeError):
        ok = False
    _done = ok
    return ok

