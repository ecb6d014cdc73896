"""Bits bookkeeping for comparison-based functions, shared by
protocols.nonlinear and protocols.fxfuncs: passing `bits` promises on, the
declared costs of the comparison primitives, and the layout of pairwise
comparisons. Imports numpy, mpcore.ring, protocols.base.
"""
import numpy as np

from mpcore.ring import DTYPE

from .base import _declared


def kw_bits(bits):
    """Keyword arguments passing `bits` to a primitive only when it is set
    (a protocol whose ltz has no `bits` still works with bits=None)."""
    return {} if bits is None else {"bits": int(bits)}


def plus_bits(bits, extra=1):
    """The bits of a difference (sum) of values promised < 2^(bits-1)."""
    if bits is None:
        return None
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 64:
        raise ValueError(f"bits must be an integer in 1..64 or None, got {bits!r}")
    b = int(bits) + int(extra)
    return None if b > 64 else b


def count_bits(k):
    """bits for an integer count in [-(k-1), k-1]."""
    return max(int(k) - 1, 1).bit_length() + 1


def ltz_cost(self, shape, bits=None):
    return _declared(self, "ltz", tuple(shape), **kw_bits(bits))


def eqz_cost(self, shape, bits=None):
    return _declared(self, "eqz", tuple(shape), **kw_bits(bits))


def ltz_mul_cost(self, shape, bits=None):
    return _declared(self, "ltz_mul", tuple(shape), tuple(shape), **kw_bits(bits))


def pair_index(k):
    """(i, j) with i < j, the order of the pairwise comparisons."""
    return np.triu_indices(int(k), 1)


def lose_matrix(k):
    """(P, k) ring matrix C with lose = [x_i < x_j] @ C + arange(k): pair
    p = (i, j) adds [x_i < x_j] to lose_i and 1 - [x_i < x_j] to lose_j."""
    I, J = pair_index(k)
    C = np.zeros((len(I), int(k)), dtype=np.int64)
    C[np.arange(len(I)), I] += 1
    C[np.arange(len(I)), J] -= 1
    return C.view(DTYPE)
