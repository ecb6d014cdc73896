"""Ref: one party holds every value in the clear; ops compute the exact
result with no communication (declared cost zero). It has the same
interface as rep3/rep4, so any program can be run on it to obtain the
expected result; truncation is the exact floor (the secure protocols may be
one below it). Comparisons are exact; the non-linear functions (relu,
argmax, exp, softmax, ...) are the generic ones of protocols.nonlinear, so
ref computes exactly the approximation the secure protocols compute. Not
secure, by design.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ring import DTYPE, as_ring_array
from protocols.base import Protocol, broadcast_shape, op
from protocols.nonlinear import Nonlinear


class Ref(Nonlinear, Protocol):
    name = "ref"
    n_parties = 1
    slots_per_party = 1

    def public_slot_positions(self):
        return (0,)

    @op("input")
    def input(self, value, owner=0, shape=None):
        if owner != 0:
            raise ValueError(f"input: ref has a single party 0, got owner {owner}")
        return self.wrap((as_ring_array(value, "input value").copy(),))

    @staticmethod
    def share_external(value):
        return [{"shape": value.shape, "slots": (("data", as_ring_array(value, "value")),)}]

    @op("receive_external")
    def receive_external(self, payload):
        (kind, data), = payload["slots"]
        return self.wrap((as_ring_array(data, "owner payload"),))

    @op("reveal")
    def reveal(self, x):
        return self._mine(x, "reveal").parts[0].copy()

    @op("reveal_to")
    def reveal_to(self, x, party):
        return self._mine(x, "reveal_to").parts[0].copy()

    @op("mul")
    def mul(self, x, y):
        self._mine(x, "mul"), self._mine(y, "mul", "y")
        broadcast_shape("mul", x.shape, y.shape)
        return self.wrap((x.parts[0] * y.parts[0],))

    @op("mul_many")
    def mul_many(self, pairs):
        return [self.mul(x, y) for x, y in pairs]

    @op("dot")
    def dot(self, x, y):
        z = self.mul(x, y).parts[0]
        return self.wrap((np.asarray(z.sum(axis=-1, dtype=DTYPE)),))

    @op("matmul")
    def matmul(self, x, y):
        self._mine(x, "matmul"), self._mine(y, "matmul", "y")
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
            raise ValueError(f"matmul: needs (a x b) @ (b x c) matrices, got {x.shape} @ {y.shape}")
        return self.wrap((native.matmul(np.ascontiguousarray(x.parts[0]),
                                        np.ascontiguousarray(y.parts[0])),))

    @op("matmul_many")
    def matmul_many(self, pairs):
        return [self.matmul(x, y) for x, y in pairs]

    @op("trunc")
    def trunc(self, x, d):
        if not 0 <= int(d) < 64:
            raise ValueError(f"trunc: shift d={d} must be in [0, 64)")
        return self.wrap((native.sar(np.ascontiguousarray(self._mine(x, "trunc").parts[0]), int(d)),))

    @op("fxmul")
    def fxmul(self, x, y):
        return self.trunc(self.mul(x, y), self.fx.frac_bits)

    @op("fxmatmul")
    def fxmatmul(self, x, y):
        return self.trunc(self.matmul(x, y), self.fx.frac_bits)

    # ---- comparison primitives, exact; everything else comes from Nonlinear --
    def _signed(self, x):
        return self._mine(x, "compare").parts[0].view(np.int64)

    @op("ltz")
    def ltz(self, x, bits=None):
        return self.wrap(((self._signed(x) < 0).astype(DTYPE),))

    @op("eqz")
    def eqz(self, x, bits=None):
        return self.wrap(((self._signed(x) == 0).astype(DTYPE),))
