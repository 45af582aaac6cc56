"""Writes golden fixtures: named float32 arrays in the format tests/support.c reads.

Layout (little endian): b"TKGD", u32 count, then per array: u32 name length,
name bytes, u32 ndim, u32 dims[ndim], float32 data (row-major)."""
import struct

import numpy as np


def write(path, arrays):
    """arrays: list of (name, array-like) in the order to store them."""
    with open(path, "wb") as f:
        f.write(b"TKGD")
        f.write(struct.pack("<I", len(arrays)))
        for name, a in arrays:
            a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", a.ndim))
            f.write(struct.pack("<%dI" % a.ndim, *a.shape))
            f.write(a.astype("<f4").tobytes())
