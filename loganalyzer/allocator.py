"""Large buffers freed by one batch go back to the system before the next.

glibc's malloc serves a large request from its heap, not a mapping of its own, once a block of
that size has been freed: its mmap threshold rises to the largest block freed, up to 32 MB. The
buffers of a batch (the bytes read, the lines split from them) then stay in the heap after the
batch, fragmented, and the peak grows from batch to batch. Fixing the threshold keeps every large
buffer in a mapping of its own, unmapped when freed. On a 1 GB night of the scan benchmark the peak
went from about 1.5 GB, growing over the night, to about 0.7 GB, flat. Other C libraries, and other
systems, are left as they are.
"""

from __future__ import annotations

import ctypes
import sys

#: mallopt's parameter for the mmap threshold (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3
#: Blocks of this size and above get a mapping of their own.
THRESHOLD = 1 << 20

_done = False


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at :data:`THRESHOLD` for this process (once); whether it was set."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    _done = bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
    return _done
