"""A large buffer freed after glibc raised its mmap threshold goes back to the system."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024

    if sys.argv[1] == "fixed":
        from loganalyzer import allocator
        assert allocator.return_large_buffers()
    first = bytearray(b"x" * (16 << 20))
    del first  # glibc now serves blocks of this size from its heap
    base = rss_mb()
    big = bytearray(b"y" * (16 << 20))
    pins = [bytearray(64 << 10) for _ in range(4)]  # allocated above it: the heap cannot shrink
    del big
    print(rss_mb() - base)
""")


def _kept_mb(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_freed_buffers_stay_in_the_heap_without_it():
    # The cause the module exists for: if this stops holding, the module is no longer needed.
    assert _kept_mb("default") >= 12


def test_freed_buffers_are_returned_with_it():
    assert _kept_mb("fixed") <= 4


def test_it_is_set_once():
    from loganalyzer import allocator

    assert allocator.return_large_buffers() is allocator.return_large_buffers()
