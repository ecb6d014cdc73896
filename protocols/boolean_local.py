"""Local (communication-free) ops on boolean XOR sharings, the same for every
replicated protocol: containers and checks, XOR with a sharing or a public
value, AND / NOT with a public value, logical shifts. A protocol's boolean
mixin inherits this and adds its AND gates. Public values go into the
protocol's slot 0 (`public_slot_positions`). Imports mpcore, protocols.base,
protocols.bitpack.
"""
import numpy as np

from mpcore.ring import DTYPE, to_ring

from .base import BoolShared, broadcast_shape, op
from .bitpack import ONES


class BooleanLocal:
    # ---- containers and checks -----------------------------------------------
    def wrap_bits(self, parts):
        return BoolShared(self, parts)

    def _mine_bits(self, x, op_name, arg="x"):
        if not isinstance(x, BoolShared):
            raise TypeError(f"{op_name}: {arg} must be a boolean sharing (BoolShared), "
                            f"got {type(x).__name__} (convert with a2b)")
        if x.proto is not self:
            raise ValueError(f"{op_name}: {arg} belongs to another protocol instance")
        return x

    def public_bits(self, value):
        """Public words as a boolean sharing (slot 0; local)."""
        c = to_ring(value)
        parts = [np.zeros(c.shape, DTYPE) for _ in range(self.slots_per_party)]
        for k in self.public_slot_positions():
            parts[k] = c.copy()
        return self.wrap_bits(parts)

    # ---- local ops ---------------------------------------------------------------
    @op("xor")
    def xor(self, x, y):
        self._mine_bits(x, "xor"), self._mine_bits(y, "xor", "y")
        broadcast_shape("xor", x.shape, y.shape)
        return self.wrap_bits(a ^ b for a, b in zip(x.parts, y.parts))

    @op("xor_public")
    def xor_public(self, x, c):
        self._mine_bits(x, "xor_public")
        c = to_ring(c)
        shape = broadcast_shape("xor_public", x.shape, c.shape)
        parts = [np.broadcast_to(p, shape).copy() for p in x.parts]
        for k in self.public_slot_positions():
            parts[k] ^= c
        return self.wrap_bits(parts)

    @op("and_public")
    def and_public(self, x, c):
        self._mine_bits(x, "and_public")
        c = to_ring(c)
        broadcast_shape("and_public", x.shape, c.shape)
        return self.wrap_bits(p & c for p in x.parts)

    @op("not_")
    def not_(self, x):
        return self.xor_public(self._mine_bits(x, "not_"), ONES)

    @op("shl_bits")
    def shl_bits(self, x, d):
        """Logical left shift of every word by d (0 <= d < 64; local)."""
        self._mine_bits(x, "shl_bits")
        return self.wrap_bits(p << np.uint64(d) for p in x.parts)

    @op("shr_bits")
    def shr_bits(self, x, d):
        """Logical right shift of every word by d (0 <= d < 64; local)."""
        self._mine_bits(x, "shr_bits")
        return self.wrap_bits(p >> np.uint64(d) for p in x.parts)
