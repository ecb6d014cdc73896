"""Rep3 multiplication, dot products, matmul and truncation.

mul: party i computes z_i = x_i y_i + x_i y_{i+1} + x_{i+1} y_i + a_i (one
fused native pass, a_i the zero share) and sends z_i to party i-1: n
elements per party, 1 round. `mul_many` multiplies several pairs of any
shapes in that same single round.

dot / matmul: the local cross terms are summed over the inner dimension
first (native blocked GEMM with the cross terms fused), then ONE resharing
per output element, whatever the inner dimension.

fxprod (truncated products in ONE round): every term's local 3-of-3
additive share z_i (cross terms, times the public scale, plus the term's
addend) is zero-masked, and the batch is cut in three chunks; chunk D has
dealer D and the other parties A = D+1, B = D+2. D draws r from its private
PRG (uniform, known to D only) and alpha from its key with B; it sends
u = z_D - r to A and to B, and r' - alpha (r' = r >> d, arithmetic) to A;
A and B exchange z_A, z_B. Both then know c = z - r (masked by r) and set
slot D+2 = c >> d; slot D = alpha (D, B), slot D+1 = r' - alpha (D, A).
Result (c >> d) + (r >> d) = floor(z / 2^d) or one less, unless z - r
overflows the signed 64-bit range (probability about |z| / 2^64, as for
trunc). Privacy: A sees u (masked by r), r' - alpha (masked by alpha, from
a key A does not hold) and z_B (masked by B's zero share); B sees u and z_A.
Cost: 1 round; per chunk of n_D values D sends 3 n_D, A and B n_D each (5 per
value over all parties, against 4 for mul + trunc in 2 rounds).

trunc (ABY3 share truncation I): party 0 holds slots x0, x1 and knows
s = x0 + x1; slot x2 (= t) is held by parties 1 and 2. New slots:
y2 = t >> d (held by 1, 2), y0 = r drawn from the key of pair {2, 0},
y1 = (s >> d) - r computed by party 0 and sent to party 1. One element per
value from party 0 only, 1 round. Result: floor(x / 2^d) or one less,
except with probability about 2^(b + 1 - 64) for |x| < 2^b, when the
signed sum s + t overflows and the result is garbage. See
mpcore.fixedpoint for what this means for fixed-point values.
"""
import math

import numpy as np

from mpcore.kernels import native
from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from mpcore.shares import Shared
from protocols.base import broadcast_shape, op, ring_public

from .conversion import chunk_sizes


def _flat(a, shape):
    if a.shape == shape:
        return np.ascontiguousarray(a).reshape(-1)
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


def _matmul_out(self, x, y):
    return x.shape[0] * y.shape[1] if len(x.shape) == 2 == len(y.shape) else 0


def _bsize(name, x, y, drop_last=False):
    """Number of output elements of an elementwise op (clear error if the
    shapes do not broadcast)."""
    shape = broadcast_shape(name, x.shape, y.shape)
    return math.prod(shape[:-1] if drop_last else shape)


def _fxprod_cost(self, terms):
    sizes = chunk_sizes(sum(t.size for t in terms))
    return Cost(1, tuple(3 * sizes[p] + sizes[(p - 1) % 3] + sizes[(p + 1) % 3] for p in range(3)))


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

    # ---- truncated products in one round -------------------------------------------
    def _additive(self, t):
        """This party's 3-of-3 additive share (flat, not zero-masked) of a
        term's (x OP y) * scale + add."""
        shape = t.shape
        if t.kind == "lin":
            z = np.array(t.x.parts[0], dtype=DTYPE).reshape(-1)
        elif t.kind == "matmul":
            self._check_matmul(t.x, t.y, "fxprod")
            z = native.matmul_cross3(*(np.ascontiguousarray(p) for p in t.x.parts + t.y.parts))
            z = z.reshape(-1)
        else:
            full = shape if t.kind == "mul" else broadcast_shape("fxprod", t.x.shape, t.y.shape)
            z = native.cross3(_flat(t.x.parts[0], full), _flat(t.x.parts[1], full),
                              _flat(t.y.parts[0], full), _flat(t.y.parts[1], full))
            if t.kind == "dot":
                z = z.reshape(-1, full[-1]).sum(axis=1, dtype=DTYPE)
        if t.scale is not None:
            z = (z.reshape(shape) * np.asarray(t.scale, dtype=DTYPE)).reshape(-1)
        if isinstance(t.add, Shared):
            self._mine(t.add, "fxprod", "add")
            if tuple(t.add.shape) != tuple(shape):
                raise ValueError(f"fxprod: add has shape {t.add.shape}, the term {shape}")
            z = z + t.add.parts[0].reshape(-1)          # slot i: a 3-of-3 share
        elif t.add is not None and self.party_id == 0:  # public: into slot 0 once
            z = z + np.broadcast_to(ring_public(t.add, "fxprod add"), shape).reshape(-1)
        if t.rounded and self.party_id == 0:
            d = self.fx.frac_bits if t.shift is None else int(t.shift)
            z = z + np.uint64(self.round_offset(d))
        return z

    @op("fxprod", _fxprod_cost)
    def fxprod(self, terms):
        """Truncated products of several terms (protocols.base.FxTerm) in ONE
        round (module docstring)."""
        terms = list(terms)
        for t in terms:
            self._mine(t.x, "fxprod")
            if t.y is not None:
                self._mine(t.y, "fxprod", "y")
        zs = [self._additive(t) for t in terms]
        z = np.concatenate(zs) if zs else np.zeros(0, DTYPE)
        z += self.zero_share(z.shape)
        segs, pos = [], 0
        for t, zt in zip(terms, zs):
            d = self.fx.frac_bits if t.shift is None else int(t.shift)
            if not 0 <= d < 64:
                raise ValueError(f"fxprod: shift {d} must be in [0, 64)")
            segs.append((pos, pos + zt.size, d))
            pos += zt.size
        y0, y1 = self._fused_trunc(z, segs)
        out, pos = [], 0
        for t, zt in zip(terms, zs):
            out.append(self.wrap((y0[pos:pos + zt.size].reshape(t.shape),
                                  y1[pos:pos + zt.size].reshape(t.shape))))
            pos += zt.size
        return out

    def _fused_trunc(self, z, segs):
        """Replicated slots of trunc(z, d) for this party's zero-masked 3-of-3
        share z; segs: [(lo, hi, d)] covering z (module docstring). This
        party deals chunk D = me, is A of chunk me-1 and B of chunk me+1;
        messages: to next [u, r' - alpha (dealt chunk), z (A chunk)], to
        prev [u (dealt chunk), z (B chunk)]."""
        me = self.party_id
        sizes = chunk_sizes(z.size)
        starts = (0, sizes[0], sizes[0] + sizes[1])
        D, A, B = me, (me - 1) % 3, (me + 1) % 3
        lD, mD, lA, mA, lB, mB = starts[D], sizes[D], starts[A], sizes[A], starts[B], sizes[B]
        shift = segs[0][2] if len({d for _, _, d in segs}) == 1 else None

        def sar(v, lo):
            if shift is not None:
                return native.sar(v, shift)
            out = np.empty_like(v)
            for s0, s1, d in segs:
                a, b = max(s0, lo), min(s1, lo + v.size)
                if a < b:
                    native.sar(np.ascontiguousarray(v[a - lo:b - lo]), d, out=out[a - lo:b - lo])
            return out

        r = self.session.private.next(mD)
        alpha = self.k_prev.next(mD)                           # key (D, B)
        ra = sar(r, lD) - alpha
        u = z[lD:lD + mD] - r
        self.net.send(self.next_party, np.concatenate((u, ra, z[lA:lA + mA])))
        self.net.send(self.prev_party, np.concatenate((u, z[lB:lB + mB])))
        got_next = self.net.recv(self.next_party, mB + mA)    # u (B chunk), z_B (A chunk)
        got_prev = self.net.recv(self.prev_party, 2 * mA + mB)  # u, r'-alpha (A chunk), z_A (B)
        y0, y1 = np.empty(z.size, DTYPE), np.empty(z.size, DTYPE)
        y0[lD:lD + mD], y1[lD:lD + mD] = alpha, ra
        c = got_prev[:mA] + z[lA:lA + mA] + got_next[mB:]
        y0[lA:lA + mA], y1[lA:lA + mA] = got_prev[mA:2 * mA], sar(c, lA)
        c = got_next[:mB] + got_prev[2 * mA:] + z[lB:lB + mB]
        y0[lB:lB + mB], y1[lB:lB + mB] = sar(c, lB), self.k_next.next(mB)   # key (B, D)
        return y0, y1
