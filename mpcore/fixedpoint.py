"""Fixed-point configuration with derived, documented bounds. Imports ring, kernels.

A real value x is encoded as the ring element round(x * 2^f) (two's complement).

Parameters (defaults: ring_bits=64, frac_bits f=16, int_bits i=15):
  * plain values must satisfy |x| < 2^i (encode refuses anything else, and
    NaN / inf, with an error naming the offending element);
  * an encoded value therefore has at most i+f = 31 magnitude bits, and the
    exact product of two encoded values at most 2(i+f) = 62 bits, which still
    fits the signed 64-bit ring: products never wrap (checked at construction:
    2(i+f) <= ring_bits - 2);
  * after a product the result carries 2f fractional bits and is truncated by f
    bits. Probabilistic truncation (3PC: ABY3 share truncation; 4PC: Fantastic
    Four) is off by at most one unit in the last place, and fails completely
    with probability about 2^(b + 1 - ring_bits) per element, where b is the
    bit length of the magnitude being truncated. For a product of plain values
    of magnitude p this is b = log2(p) + 2f, i.e. failure ~ p * 2^-31 with the
    defaults: 2^-31 for |p| ~ 1, 2^-21 for |p| ~ 1024.
    `trunc_failure_probability(b)` gives the figure; `safe_product_bound(p)`
    the largest plain product magnitude with failure below p.
"""
from dataclasses import dataclass

import numpy as np

from .errors import EncodingError


@dataclass(frozen=True)
class FixedPoint:
    frac_bits: int = 16
    int_bits: int = 15
    ring_bits: int = 64

    def __post_init__(self):
        if self.ring_bits != 64:
            raise ValueError("only the 64-bit ring is implemented (ring_bits=64)")
        if not (0 <= self.frac_bits <= 30 and 1 <= self.int_bits <= 30):
            raise ValueError(f"frac_bits={self.frac_bits} must be in [0, 30] and "
                             f"int_bits={self.int_bits} in [1, 30]")
        if 2 * (self.int_bits + self.frac_bits) > self.ring_bits - 2:
            raise ValueError(
                f"int_bits + frac_bits = {self.int_bits + self.frac_bits} leaves no headroom: "
                f"a product needs 2*(int_bits+frac_bits) <= {self.ring_bits - 2} bits")

    # ---- derived bounds -------------------------------------------------
    @property
    def scale(self) -> int:
        return 1 << self.frac_bits

    @property
    def max_value(self) -> float:
        """Exclusive bound on |x| for encodable plain values."""
        return float(1 << self.int_bits)

    @property
    def resolution(self) -> float:
        return 1.0 / self.scale

    @property
    def encoded_bits(self) -> int:
        """Bit length bound of an encoded in-range value's magnitude."""
        return self.int_bits + self.frac_bits

    @property
    def product_bits(self) -> int:
        """Bit length bound of the exact product of two encoded values."""
        return 2 * self.encoded_bits

    def trunc_failure_probability(self, value_bits: int) -> float:
        """Per-element probability that probabilistic truncation of a value with
        `value_bits` magnitude bits fails (result wildly wrong)."""
        return min(1.0, 2.0 ** (value_bits + 1 - self.ring_bits))

    def safe_product_bound(self, failure: float) -> float:
        """Largest plain product magnitude whose truncation fails with
        probability at most `failure` per element."""
        bits = int(np.floor(np.log2(failure))) + self.ring_bits - 1
        return 2.0 ** (bits - 2 * self.frac_bits)

    # ---- encoding -------------------------------------------------------
    def encode(self, x) -> np.ndarray:
        from .kernels import native
        arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            raise EncodingError(f"fixed-point encode: element {i} is {arr.ravel()[i]} "
                                f"(NaN and inf cannot be encoded)")
        over = np.abs(arr) >= self.max_value
        if over.any():
            i = int(np.flatnonzero(over.ravel())[0])
            raise EncodingError(
                f"fixed-point encode: element {i} = {arr.ravel()[i]!r} is out of range: "
                f"|x| must be < 2^{self.int_bits} = {self.max_value:g} "
                f"(FixedPoint(int_bits={self.int_bits}, frac_bits={self.frac_bits}))")
        return native.fx_encode(arr, self.frac_bits)

    def decode(self, u) -> np.ndarray:
        from .kernels import native
        return native.fx_decode(np.ascontiguousarray(u, dtype=np.uint64), self.frac_bits)


DEFAULT = FixedPoint()
