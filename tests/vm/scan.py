#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Counts copies of a marker in disk images: `scan.py TOKEN IMAGE...`.

Prints one line per image, "COUNT IMAGE". Reads only the data extents of
sparse files (SEEK_DATA/SEEK_HOLE), in large chunks, and counts occurrences
that start in each chunk (a copy split across two chunks is counted once)."""
import os
import sys

CHUNK = 64 << 20


def extents(fd, size):
    """Yields (start, end) of the file's data regions."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: no more data
            return
        except AttributeError:
            yield (0, size)
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield (start, end)
        pos = end


def count(path, tok):
    n = 0
    keep = len(tok) - 1
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        for start, end in extents(fd, size):
            carry = b""
            pos = start
            while pos < end:
                os.lseek(fd, pos, os.SEEK_SET)
                buf = f.read(min(CHUNK, end - pos))
                if not buf:
                    break
                data = carry + buf
                n += data.count(tok)
                carry = data[-keep:] if keep else b""
                pos += len(buf)
    return n


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: scan.py TOKEN IMAGE...")
    tok = sys.argv[1].encode()
    for path in sys.argv[2:]:
        print(count(path, tok), path)


if __name__ == "__main__":
    main()
