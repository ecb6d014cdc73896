"""Rep4 multiplication, dot products, matmul and truncation. Imports mpcore
and protocols.base.

mul (Fantastic Four, no preprocessing, 1 round): the 16 cross terms
x_k y_l are grouped into 6 values, each known to two parties and delivered
by one JMP (sender, backup -> receiver; indices mod 4):
    a_j = x_{j+2} y_{j+2} + x_{j+3} y_{j+2} + x_{j+2} y_{j+3}   (P_j, P_{j+1})
        a_0: P0,P1->P3   a_1: P1,P2->P0   a_2: P2,P3->P1   a_3: P3,P0->P2
    e13 = x1 y3 + x3 y1: P0,P2->P3      e02 = x0 y2 + x2 y0: P1,P3->P2
Elements sent per product: P0 2, P1 2, P2 1, P3 1 (6 in total); P0's two
values for P3 travel in one message. The backups' hashes are only folded
(checked at the next `check`). `mul_many` runs any number of pairs in the
same single round.

dot / matmul / matmul_many: the same 6 values with the local terms summed over the inner
dimension first (native fused GEMM for matmul), so one set of 6 elements
per OUTPUT element whatever the inner dimension.

trunc(x, d), probabilistic, 2 rounds: r = r2 + r3 with r2 from keys[2]
(P0,P1,P3) and r3 from keys[3] (P0,P1,P2), so P0 and P1 know r. Round 1:
c = x - r is opened to P2 and P3: P0 sends c2 = x2 - r2 to P2 (P1 vouches
by hash), P1 sends c3 = x3 - r3 to P3 (P0 vouches); in the same round
P0,P1 JMP sar(r, d) to P3. Round 2: P2,P3 JMP sar(c, d) to P1. Result:
sar(c, d) + sar(r, d). Elements per value: P0 2, P1 1, P2 1, P3 0.
c is uniformly masked for P2 (it lacks r2) and P3 (it lacks r3).
Three empty messages (`Round.ping`: 0 bytes, 24-byte frame header) make
the second round depend on every party's first: P2 -> P3 and P3 -> P2 in
round 1, P3 -> P1 in round 2. Without them P3 would send nothing and P2,
the only sender of round 2, would hear from P0 only; so when P1, P2 or P3
entered trunc ahead of the others (Lamport depth, inside an enclosing op)
trunc took 1 round instead of 2. Two truncations in a row inside one op
(fxprod with two shifts, e.g. in softmax) took 3 rounds against 4
declared: P0, which receives nothing in trunc, ran ahead into the second
while P1 waited for the first. With the pings trunc takes exactly 2 rounds
after any op. Messages per truncation: P0 2, P1 1, P2 2, P3 2.
Error: c + r = x, so if the signed sum c + r does not overflow,
sar(c, d) + sar(r, d) is floor(x / 2^d) or one less. It overflows with
probability about |x| / 2^64 < 2^(b - 64) for |x| < 2^b (r is uniform),
and then the result is off by about 2^(64 - d): wildly wrong. For fixed
point with f = 16 and |x| < 2^30 that is below 2^-34 per element; see
mpcore.fixedpoint.trunc_failure_probability for the (conservative) figure
used across protocols. No MSB correction is applied: keep |x| well under
2^63.

fxmul / fxmatmul: mul / matmul then trunc by frac_bits (3 rounds).
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from protocols.base import broadcast_shape, op

N = 4
# (kernel, k, l, sender, backup, receiver): kernel "cross3" is
# x_k y_k + x_l y_k + x_k y_l, "cross2" is x_k y_l + x_l y_k.
MUL_JMPS = (
    ("cross3", 2, 3, 0, 1, 3),   # a_0
    ("cross3", 3, 0, 1, 2, 0),   # a_1
    ("cross3", 0, 1, 2, 3, 1),   # a_2
    ("cross3", 1, 2, 3, 0, 2),   # a_3
    ("cross2", 1, 3, 0, 2, 3),   # x1 y3 + x3 y1
    ("cross2", 0, 2, 1, 3, 2),   # x0 y2 + x2 y0
)
MUL_SENT = (2, 2, 1, 1)        # elements sent per party per product
TRUNC_SENT = (2, 1, 1, 0)


def _n(shape):
    return int(np.prod(shape, dtype=np.int64))


def _flat(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1)


def _mul_cost(self, n):
    return Cost(1, tuple(int(k * n) for k in MUL_SENT))


def _trunc_cost(self, n):
    return Cost(2, tuple(int(k * n) for k in TRUNC_SENT))


def _pairs_n(pairs):
    return sum(_n(np.broadcast_shapes(x.shape, y.shape)) for x, y in pairs)


def _matmul_n(x, y):
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
        raise ValueError(f"matmul: needs (a x b) @ (b x c) matrices, got {x.shape} @ {y.shape}")
    return x.shape[0] * y.shape[1]


class Rep4Arithmetic:
    def _mul_round(self, product, n, shape):
        """One round of the 6 JMPs. `product(kernel, k, l)` returns this
        party's local value (n elements) for the JMPs it sends or backs."""
        from .protocol import Round
        me = self.party_id
        rnd = Round(self, (n,))
        out = self.empty_slots(n)
        for kernel, k, l, s, b, r in MUL_JMPS:
            v = np.ascontiguousarray(product(kernel, k, l)).reshape(-1) if me in (s, b) else None
            rnd.jmp(s, b, r, v, out)
        rnd.run()
        return self.from_slots(out, shape)

    def _elementwise(self, xs, ys):
        """Local products over flat per-slot arrays {slot: array}."""
        def product(kernel, k, l):
            fn = native.cross3 if kernel == "cross3" else native.cross2
            return fn(xs[k], xs[l], ys[k], ys[l])
        return product

    @op("mul", lambda self, x, y: _mul_cost(self, _n(np.broadcast_shapes(x.shape, y.shape))))
    def mul(self, x, y):
        self._mine(x, "mul"), self._mine(y, "mul", "y")
        shape = broadcast_shape("mul", x.shape, y.shape)
        xs = {j: _flat(self.slot(x, j), shape) for j in self.slots}
        ys = {j: _flat(self.slot(y, j), shape) for j in self.slots}
        return self._mul_round(self._elementwise(xs, ys), _n(shape), shape)

    @op("mul_many", lambda self, pairs: _mul_cost(self, _pairs_n(pairs)))
    def mul_many(self, pairs):
        """Multiply several (x, y) pairs of any shapes in one round."""
        if not pairs:
            return []
        shapes = []
        for x, y in pairs:
            self._mine(x, "mul_many"), self._mine(y, "mul_many", "y")
            shapes.append(broadcast_shape("mul_many", x.shape, y.shape))
        xs = {j: np.concatenate([_flat(self.slot(x, j), s) for (x, _), s in zip(pairs, shapes)])
              for j in self.slots}
        ys = {j: np.concatenate([_flat(self.slot(y, j), s) for (_, y), s in zip(pairs, shapes)])
              for j in self.slots}
        total = sum(_n(s) for s in shapes)
        return self.split(self._mul_round(self._elementwise(xs, ys), total, (total,)), shapes)

    @op("dot", lambda self, x, y: _mul_cost(self, _n(np.broadcast_shapes(x.shape, y.shape)[:-1])))
    def dot(self, x, y):
        """Inner product over the last axis (batched over leading axes)."""
        self._mine(x, "dot"), self._mine(y, "dot", "y")
        shape = broadcast_shape("dot", x.shape, y.shape)
        if len(shape) == 0:
            raise ValueError("dot: needs at least one axis")
        xs = {j: _flat(self.slot(x, j), shape) for j in self.slots}
        ys = {j: _flat(self.slot(y, j), shape) for j in self.slots}
        elementwise = self._elementwise(xs, ys)

        def product(kernel, k, l):
            return elementwise(kernel, k, l).reshape(shape).sum(axis=-1, dtype=DTYPE)
        return self._mul_round(product, _n(shape[:-1]), shape[:-1])

    def _check_matmul(self, x, y, name):
        self._mine(x, name), self._mine(y, name, "y")
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[0]:
            raise ValueError(f"{name}: needs (a x b) @ (b x c) matrices, got {x.shape} @ {y.shape}")

    @op("matmul", lambda self, x, y: _mul_cost(self, _matmul_n(x, y)))
    def matmul(self, x, y):
        self._check_matmul(x, y, "matmul")
        xs = {j: np.ascontiguousarray(self.slot(x, j)) for j in self.slots}
        ys = {j: np.ascontiguousarray(self.slot(y, j)) for j in self.slots}

        def product(kernel, k, l):
            if kernel == "cross3":
                return native.matmul_cross3(xs[k], xs[l], ys[k], ys[l])
            return native.matmul_cross2(xs[k], xs[l], ys[k], ys[l])
        return self._mul_round(product, _matmul_n(x, y), (x.shape[0], y.shape[1]))

    @op("matmul_many", lambda self, pairs: _mul_cost(self, sum(_matmul_n(x, y) for x, y in pairs)))
    def matmul_many(self, pairs):
        """Several independent matrix products in one round (one set of 6
        JMPs over all outputs together)."""
        if not pairs:
            return []
        mats = []
        for x, y in pairs:
            self._check_matmul(x, y, "matmul_many")
            mats.append(({j: np.ascontiguousarray(self.slot(x, j)) for j in self.slots},
                         {j: np.ascontiguousarray(self.slot(y, j)) for j in self.slots}))
        shapes = [(x.shape[0], y.shape[1]) for x, y in pairs]
        total = sum(_n(s) for s in shapes)

        def product(kernel, k, l):
            fn = native.matmul_cross3 if kernel == "cross3" else native.matmul_cross2
            return np.concatenate([fn(xs[k], xs[l], ys[k], ys[l]).reshape(-1) for xs, ys in mats])
        return self.split(self._mul_round(product, total, (total,)), shapes)

    @op("trunc", lambda self, x, d: _trunc_cost(self, x.size))
    def trunc(self, x, d):
        """Probabilistic truncation by d bits (see module docstring)."""
        from .protocol import Round
        self._mine(x, "trunc")
        if not 0 <= int(d) < 64:
            raise ValueError(f"trunc: shift d={d} must be in [0, 64)")
        d = int(d)
        me = self.party_id
        shape, n = x.shape, x.size
        xs = {j: np.ascontiguousarray(self.slot(x, j)).reshape(-1) for j in self.slots}
        r2 = self.keys[2].next(n) if me != 2 else None
        r3 = self.keys[3].next(n) if me != 3 else None
        out = self.empty_slots(n)
        # round 1: open c = x - r to P2 and P3; P0,P1 JMP sar(r, d) to P3;
        # P2 and P3 ping each other (the round-2 senders hear from everyone)
        rnd = Round(self, (n,))
        c2 = xs[2] - r2 if me in (0, 1) else None
        c3 = xs[3] - r3 if me in (0, 1) else None
        i2 = rnd.send(0, 2, c2, backup=1)
        i3 = rnd.send(1, 3, c3, backup=0)
        rt = native.sar(r2 + r3, d) if me in (0, 1) else None
        rnd.jmp(0, 1, 3, rt, out)
        rnd.ping(2, 3)
        rnd.ping(3, 2)
        got = rnd.run()
        # round 2: P2,P3 JMP sar(c, d) to P1; P3 pings P1
        ct = None
        if me == 2:
            ct = native.sar(xs[0] + xs[1] + (xs[3] - r3) + got[i2], d)
        elif me == 3:
            ct = native.sar(xs[0] + xs[1] + (xs[2] - r2) + got[i3], d)
        rnd = Round(self, (n,))
        rnd.jmp(2, 3, 1, ct, out)
        rnd.ping(3, 1)
        rnd.run()
        return self.from_slots(out, shape)

    @op("fxmul", lambda self, x, y: (
        _mul_cost(self, _n(np.broadcast_shapes(x.shape, y.shape)))
        + _trunc_cost(self, _n(np.broadcast_shapes(x.shape, y.shape)))))
    def fxmul(self, x, y):
        """Fixed-point product: mul, then truncation by frac_bits."""
        return self.trunc(self.mul(x, y), self.fx.frac_bits)

    @op("fxmatmul", lambda self, x, y: _mul_cost(self, _matmul_n(x, y))
        + _trunc_cost(self, _matmul_n(x, y)))
    def fxmatmul(self, x, y):
        return self.trunc(self.matmul(x, y), self.fx.frac_bits)
