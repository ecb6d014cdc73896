"""The ring Z_2^64 as numpy uint64 arrays. Imports numpy only.

Ring elements are numpy uint64 arrays; arithmetic wraps modulo 2^64. Signed
values use two's complement: `to_signed` reinterprets without copying.
"""
import numpy as np

RING_BITS = 64
DTYPE = np.uint64
ELEMENT_BYTES = 8
MODULUS = 1 << RING_BITS


def to_ring(values) -> np.ndarray:
    """Python ints / integer arrays (any sign, any size) -> uint64 array mod 2^64."""
    if isinstance(values, np.ndarray):
        if values.dtype == DTYPE:
            return np.ascontiguousarray(values)
        if values.dtype.kind in "iu":
            return np.ascontiguousarray(values.astype(np.int64, copy=False).view(DTYPE)
                                        if values.dtype.kind == "i" else values.astype(DTYPE))
        if values.dtype == object:
            return np.array([int(v) % MODULUS for v in values.ravel()],
                            dtype=DTYPE).reshape(values.shape)
        raise TypeError(f"to_ring: expected integers, got dtype {values.dtype}")
    if isinstance(values, (int, np.integer)):
        return np.array(int(values) % MODULUS, dtype=DTYPE)
    arr = np.asarray(values, dtype=object)
    return to_ring(arr)


def to_signed(x: np.ndarray) -> np.ndarray:
    """Reinterpret ring elements as int64 (two's complement), no copy."""
    return np.asarray(x, dtype=DTYPE).view(np.int64)


def zeros(shape) -> np.ndarray:
    return np.zeros(shape, dtype=DTYPE)


def as_ring_array(x, name="value") -> np.ndarray:
    """Validate that x is already a uint64 array; returns it C-contiguous."""
    if not isinstance(x, np.ndarray) or x.dtype != DTYPE:
        raise TypeError(f"{name}: expected a numpy uint64 array of ring elements, "
                        f"got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    return np.ascontiguousarray(x)
