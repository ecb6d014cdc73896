"""The replicated share container. Imports ring.

A `Shared` value holds the share slots this party owns (3PC: two of three;
4PC: three of four; the cleartext `ref` protocol: the value itself) as a
tuple of uint64 arrays of one shape, and the protocol that made it. It never
holds anything else: no party ever sees another party's slots. Operators
dispatch to the protocol, so `x * y` is a secure multiplication and
`x + 3` adds a public constant.
"""
import numpy as np

from .ring import to_ring


class Shared:
    __slots__ = ("proto", "parts")
    __array_priority__ = 1000   # make numpy defer to our reflected operators

    def __init__(self, proto, parts):
        self.proto = proto
        self.parts = tuple(parts)

    # ---- shape ------------------------------------------------------------
    @property
    def shape(self):
        return self.parts[0].shape

    @property
    def size(self):
        return self.parts[0].size

    @property
    def ndim(self):
        return self.parts[0].ndim

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"Shared({self.proto.name}, party {self.proto.party_id}, shape={self.shape})"

    # local restructuring: applied slot by slot, no communication
    def _map(self, fn):
        return Shared(self.proto, tuple(np.ascontiguousarray(fn(p)) for p in self.parts))

    def __getitem__(self, idx):
        return self._map(lambda p: p[idx])

    def reshape(self, *shape):
        return self._map(lambda p: p.reshape(*shape))

    @property
    def T(self):
        return self._map(lambda p: p.T)

    def flatten(self):
        return self._map(lambda p: p.ravel())

    def broadcast_to(self, shape):
        if tuple(self.shape) == tuple(shape):
            return self
        return self._map(lambda p: np.broadcast_to(p, shape))

    # ---- arithmetic ---------------------------------------------------------
    def __add__(self, other):
        if isinstance(other, Shared):
            return self.proto.add(self, other)
        return self.proto.add_public(self, to_ring(other))

    __radd__ = __add__

    def __sub__(self, other):
        if isinstance(other, Shared):
            return self.proto.sub(self, other)
        return self.proto.add_public(self, -to_ring(other))

    def __rsub__(self, other):
        return self.proto.add_public(self.proto.neg(self), to_ring(other))

    def __neg__(self):
        return self.proto.neg(self)

    def __mul__(self, other):
        if isinstance(other, Shared):
            return self.proto.mul(self, other)
        return self.proto.mul_public(self, to_ring(other))

    __rmul__ = __mul__

    def __matmul__(self, other):
        return self.proto.matmul(self, other)

    def sum(self, axis=None):
        return self.proto.sum(self, axis)


def concatenate(values, axis=0):
    """Concatenate shared values of one protocol (local)."""
    proto = values[0].proto
    k = len(values[0].parts)
    return Shared(proto, tuple(np.concatenate([v.parts[j] for v in values], axis=axis)
                               for j in range(k)))
