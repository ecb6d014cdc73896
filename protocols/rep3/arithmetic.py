"""Rep3 multiplication, dot products, matmul and truncation.

mul: party i computes z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + a_i (one
fused native pass, a_i the zero share) and sends z_i to party i-1: n
elements per party, 1 round. `mul_many` multiplies several pairs of any
shapes in that same single round.

dot / matmul: the local cross terms are summed over the inner dimension
first (native blocked GEMM with the cross terms fused), then ONE resharing
per output element, whatever the inner dimension.

trunc (ABY3 share truncation I): party 0 holds slots x0, x1 and knows
s = x0 + x1; slot x2 (= t) is held by parties 1 and 2. New slots:
y2 = t >> d (held by 1, 2), y0 = r drawn from the key of pair {2, 0},
y1 = (s >> d) - r computed by party 0 and sent to party 1. One element per
value from party 0 only, 1 round. Result: floor(x / 2^d) or one less,
except with probability about 2^(b + 1 - 64) for |x| < 2^b, when the
signed sum s + t overflows and the result is garbage. See
mpcore.fixedpoint for what this means for fixed-point values.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ring import DTYPE
from protocols.base import broadcast_shape, op


def _flat(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


def _matmul_out(self, x, y):
    return x.shape[0] * y.shape[1] if len(x.shape) == 2 == len(y.shape) else 0


def _bsize(name, x, y, drop_last=False):
    """Number of output elements of an elementwise op (clear error if the
    shapes do not broadcast)."""
    shape = broadcast_shape(name, x.shape, y.shape)
    return int(np.prod(shape[:-1] if drop_last else shape, dtype=np.int64))


class Rep3Arithmetic:
    def _reshare(self, z):
        """3-out-of-3 additive z_i -> replicated (z_i, z_{i+1}). 1 round."""
        self.net.send(self.prev_party, z)
        z_next = self.net.recv(self.next_party, z.size).reshape(z.shape)
        return self.wrap((z, z_next))

    def _local_product(self, x, y, op_name):
        shape = broadcast_shape(op_name, x.shape, y.shape)
        zero = self.zero_share(shape).reshape(-1)
        z = native.cross3(_flat(x.parts[0], shape), _flat(x.parts[1], shape),
                          _flat(y.parts[0], shape), _flat(y.parts[1], shape), zero=zero)
        return z.reshape(shape)

    @op("mul", lambda self, x, y: self.each(_bsize("mul", x, y)))
    def mul(self, x, y):
        self._mine(x, "mul"), self._mine(y, "mul", "y")
        return self._reshare(self._local_product(x, y, "mul"))

    @op("mul_many", lambda self, pairs: self.each(sum(_bsize("mul_many", x, y) for x, y in pairs)))
    def mul_many(self, pairs):
        """Multiply several (x, y) pairs in one round."""
        if not pairs:
            return []
        zs = [self._local_product(self._mine(x, "mul_many"), self._mine(y, "mul_many", "y"),
                                  "mul_many") for x, y in pairs]
        joint = self._reshare(np.concatenate([z.reshape(-1) for z in zs]))
        return self.split(joint, [z.shape for z in zs])

    @op("dot", lambda self, x, y: self.each(_bsize("dot", x, y, drop_last=True)))
    def dot(self, x, y):
        """Inner product over the last axis (batched over leading axes)."""
        self._mine(x, "dot"), self._mine(y, "dot", "y")
        shape = broadcast_shape("dot", x.shape, y.shape)
        if len(shape) == 0:
            raise ValueError("dot: needs at least one axis")
        z = native.cross3(_flat(x.parts[0], shape), _flat(x.parts[1], shape),
                          _flat(y.parts[0], shape), _flat(y.parts[1], shape))
        rows = z.reshape(-1, shape[-1]).sum(axis=1, dtype=DTYPE)      # 1-D: no scalar overflow warnings
        rows += self.zero_share(rows.shape)
        return self._reshare(rows.reshape(shape[:-1]))

    def _check_matmul(self, x, y, name):
        self._mine(x, name), self._mine(y, name, "y")
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
            raise ValueError(f"{name}: needs (a x b) @ (b x c) matrices, got {x.shape} @ {y.shape}")

    @op("matmul", lambda self, x, y: self.each(_matmul_out(self, x, y)))
    def matmul(self, x, y):
        self._check_matmul(x, y, "matmul")
        out_shape = (x.shape[0], y.shape[1])
        z = native.matmul_cross3(*(np.ascontiguousarray(p) for p in x.parts + y.parts),
                                 zero=self.zero_share(out_shape))
        return self._reshare(z)

    @op("matmul_many", lambda self, pairs: self.each(sum(_matmul_out(self, x, y) for x, y in pairs)))
    def matmul_many(self, pairs):
        """Several independent matrix products in one round (one resharing
        of all outputs together)."""
        zs = []
        for x, y in pairs:
            self._check_matmul(x, y, "matmul_many")
            zs.append(native.matmul_cross3(*(np.ascontiguousarray(p) for p in x.parts + y.parts)))
        return self._split_reshare(zs)

    def _split_reshare(self, zs):
        flat = np.concatenate([z.reshape(-1) for z in zs])
        flat += self.zero_share(flat.shape)
        joint = self._reshare(flat)
        return self.split(joint, [z.shape for z in zs])

    @op("trunc", lambda self, x, d: self.only(0, x.size))
    def trunc(self, x, d):
        """Probabilistic truncation by d bits (see module docstring)."""
        self._mine(x, "trunc")
        if not 0 <= int(d) < 64:
            raise ValueError(f"trunc: shift d={d} must be in [0, 64)")
        i = self.party_id
        shape = x.shape
        if i == 0:
            s = x.parts[0] + x.parts[1]
            r = self.k_prev.next_like(shape)               # key of pair {2, 0}
            y1 = native.sar(np.ascontiguousarray(s), int(d)) - r
            self.net.send(1, y1)
            return self.wrap((r, y1))
        if i == 1:
            y1 = self.net.recv(0, x.size).reshape(shape)
            return self.wrap((y1, native.sar(np.ascontiguousarray(x.parts[1]), int(d))))
        r = self.k_next.next_like(shape)                   # key of pair {2, 0}
        return self.wrap((native.sar(np.ascontiguousarray(x.parts[0]), int(d)), r))

    @op("fxmul", lambda self, x, y: (self.each(_bsize("fxmul", x, y))
                                      + self.only(0, _bsize("fxmul", x, y))))
    def fxmul(self, x, y):
        """Fixed-point product: mul, then truncation by frac_bits."""
        return self.trunc(self.mul(x, y), self.fx.frac_bits)

    @op("fxmatmul", lambda self, x, y: (self.each(_matmul_out(self, x, y))
                                         + self.only(0, _matmul_out(self, x, y))))
    def fxmatmul(self, x, y):
        return self.trunc(self.matmul(x, y), self.fx.frac_bits)
