"""Hypothesis strategies for ring elements, signed and fixed-point values,
shapes and arrays. Edge values (0, 1, -1, 2^63, 2^64-1, range limits) are
drawn with high probability, not left to chance."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mpcore.fixedpoint import DEFAULT

RING_EDGES = [0, 1, 2, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, (1 << 64) - 1, (1 << 64) - 2]


def ring_elements():
    return st.one_of(st.sampled_from(RING_EDGES), st.integers(0, (1 << 64) - 1))


def signed_elements(bits):
    """Signed integers with magnitude < 2^bits, edges included."""
    lim = (1 << bits) - 1
    edges = [0, 1, -1, lim, -lim, 2, -2]
    return st.one_of(st.sampled_from(edges), st.integers(-lim, lim))


def shapes(max_dims=2, max_side=5):
    return hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=max_side)


def ring_arrays(shape, elements=None):
    return hnp.arrays(np.uint64, shape, elements=elements or ring_elements())


def signed_arrays(shape, bits):
    """uint64 arrays holding two's complement signed values below 2^bits."""
    return hnp.arrays(np.int64, shape, elements=signed_elements(bits)).map(
        lambda a: a.view(np.uint64))


def fixed_point_values(fx=DEFAULT, bound=None):
    """Reals within the fixed-point range (limits included)."""
    lim = (bound if bound is not None else fx.max_value) - fx.resolution
    return st.one_of(st.sampled_from([0.0, fx.resolution, -fx.resolution, lim, -lim]),
                     st.floats(-lim, lim, allow_nan=False, allow_infinity=False))


def fixed_point_arrays(shape, fx=DEFAULT, bound=None):
    return hnp.arrays(np.float64, shape, elements=fixed_point_values(fx, bound))
