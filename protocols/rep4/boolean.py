"""Rep4 boolean (XOR) sharing over packed 64-bit words. Imports mpcore,
protocols.base, protocols.boolean_local.

Sharing: a word array b = b0 ^ b1 ^ b2 ^ b3 in the arithmetic slot layout
(party i holds the three slots j != i, as (b_{i+1}, b_{i+2}, b_{i+3})); the
same keys, the same JMPs, with XOR for +. Each uint64 word carries 64
independent bits, so one AND "gate" on a word is 64 ANDs. A boolean value
is a `BoolShared` (protocols.base), which arithmetic ops refuse. Public
constants go into slot 0.

Ops (rounds, 64-bit words sent by each party for W words of output):
  xor, xor_public, and_public, not_, shl_bits, shr_bits   local
  and_, and_many  the 6 JMPs of the arithmetic `mul` (Fantastic Four) over
            GF(2): a_j = x_{j+2}&y_{j+2} ^ x_{j+3}&y_{j+2} ^ x_{j+2}&y_{j+3}
            (P_j, P_{j+1}), x1&y3 ^ x3&y1 (P0, P2), x0&y2 ^ x2&y0 (P1, P3),
            each delivered by a JMP whose backup folds it into its link
            hash (checked at the next `check`, before anything is revealed).
            To balance the load the words are cut in two halves; the
            second half uses the routes rotated by two parties (party i
            plays party i+2: the same protocol with parties and slots
            relabelled), so the W0 = ceil(W/2) words of the first half cost
            (2, 2, 1, 1) words each and the W1 = floor(W/2) of the second
            (1, 1, 2, 2). and_many: any number of pairs in that one round.
                                         1 round, (2W0+W1, 2W0+W1, W0+2W1, W0+2W1)
  input_bits  like arithmetic input, XOR for +      1 round, 2 words by the owner
  reveal_bits pending check first, then like reveal  1 (+1) round, W words + 2 digests

The bit-packing helpers of the comparison circuits are in protocols.bitpack.
"""
import numpy as np

from mpcore.ledger import Cost
from mpcore.ring import DTYPE, as_ring_array
from protocols.base import broadcast_shape, op
from protocols.boolean_local import BooleanLocal

from .arithmetic import MUL_JMPS

N = 4


# ---- AND routes and costs ------------------------------------------------------------
def _rotated(t):
    return tuple((kern, (k + t) % N, (l + t) % N, (s + t) % N, (b + t) % N, (r + t) % N)
                 for kern, k, l, s, b, r in MUL_JMPS)


AND_ROUTES = (_rotated(0), _rotated(2))
AND_SENT = tuple(tuple(sum(1 for route in routes if route[3] == p) for p in range(N))
                 for routes in AND_ROUTES)            # ((2, 2, 1, 1), (1, 1, 2, 2))


def and_halves(words):
    return (words + 1) // 2, words // 2


def and_sent(words):
    """Words sent by each party for an AND round over `words` words."""
    w0, w1 = and_halves(words)
    return tuple(w0 * AND_SENT[0][p] + w1 * AND_SENT[1][p] for p in range(N))


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _pairs_words(pairs):
    return sum(_size(np.broadcast_shapes(x.shape, y.shape)) for x, y in pairs)


def _and_cost(self, x, y):
    return Cost(1, and_sent(_size(np.broadcast_shapes(x.shape, y.shape))))


def _and_many_cost(self, pairs):
    if not pairs:
        return self.free()
    return Cost(1, and_sent(_pairs_words(pairs)))


def _xor_cross(kernel, xk, xl, yk, yl):
    """The GF(2) versions of the `mul` kernels."""
    if kernel == "cross3":                   # xk yk ^ xl yk ^ xk yl
        return (xk & (yk ^ yl)) ^ (xl & yk)
    return (xk & yl) ^ (xl & yk)             # cross2


class Rep4Boolean(BooleanLocal):
    # (containers, checks and local ops: protocols.boolean_local)
    def bits_from_slots(self, slots, shape):
        """{slot: flat words} (missing = 0) -> BoolShared of `shape`."""
        n = _size(shape)
        return self.wrap_bits((np.asarray(slots[s]) if s in slots else np.zeros(n, DTYPE))
                              .reshape(shape) for s in self.slots)

    # ---- AND gates ---------------------------------------------------------------
    def _and_register(self, rnd, xs, ys, words):
        """Register the JMPs of the AND of two flat boolean sharings
        ({slot: words}, `words` words each) in Round `rnd`; returns a function
        that, after rnd.run(), gives the product as {slot: words}."""
        me = self.party_id
        halves = and_halves(words)
        outs, lo = [], 0
        for routes, w in zip(AND_ROUTES, halves):
            hi = lo + w
            out = {}
            if w:
                for kern, k, l, s, b, r in routes:
                    v = None
                    if me in (s, b):
                        v = _xor_cross(kern, xs[k][lo:hi], xs[l][lo:hi], ys[k][lo:hi], ys[l][lo:hi])
                    rnd.jmp(s, b, r, v, out, n=w, xor=True)
            outs.append((out, w))
            lo = hi

        def result():
            return {j: np.concatenate([o[j] if j in o else np.zeros(w, DTYPE) for o, w in outs])
                    for j in self.slots}
        return result

    def _and_flat(self, pairs):
        """AND of several (x, y) flat-slot pairs in one round:
        pairs = [({slot: words}, {slot: words}, words)], returns [{slot: words}]."""
        return self._and_flat_extra(pairs, None)[0]

    def _and_flat_extra(self, pairs, extra):
        """_and_flat; `extra(rnd)`, if not None, registers more entries in the
        same round. Returns (results, what extra(rnd) returned)."""
        from .protocol import Round
        total = sum(w for _, _, w in pairs)
        xs = {j: np.concatenate([x[j] for x, _, _ in pairs]) if pairs else np.zeros(0, DTYPE)
              for j in self.slots}
        ys = {j: np.concatenate([y[j] for _, y, _ in pairs]) if pairs else np.zeros(0, DTYPE)
              for j in self.slots}
        rnd = Round(self, (total,), xor=True, full=True)
        finish = self._and_register(rnd, xs, ys, total)
        more = extra(rnd) if extra is not None else None
        rnd.run()
        z = finish()
        out, pos = [], 0
        for _, _, w in pairs:
            out.append({j: z[j][pos:pos + w] for j in self.slots})
            pos += w
        return out, more

    def _flat_slots(self, x, shape):
        return {j: np.ascontiguousarray(np.broadcast_to(self.slot(x, j), shape)).reshape(-1)
                for j in self.slots}

    @op("and_", _and_cost)
    def and_(self, x, y):
        """Bitwise AND of two boolean sharings (64 gates per word), 1 round."""
        self._mine_bits(x, "and_"), self._mine_bits(y, "and_", "y")
        shape = broadcast_shape("and_", x.shape, y.shape)
        w = _size(shape)
        z, = self._and_flat([(self._flat_slots(x, shape), self._flat_slots(y, shape), w)])
        return self.bits_from_slots(z, shape)

    @op("and_many", _and_many_cost)
    def and_many(self, pairs):
        """Several (x, y) AND pairs of any shapes in one round."""
        if not pairs:
            return []
        flat, shapes = [], []
        for x, y in pairs:
            self._mine_bits(x, "and_many"), self._mine_bits(y, "and_many", "y")
            shape = broadcast_shape("and_many", x.shape, y.shape)
            shapes.append(shape)
            flat.append((self._flat_slots(x, shape), self._flat_slots(y, shape), _size(shape)))
        return [self.bits_from_slots(z, s) for z, s in zip(self._and_flat(flat), shapes)]

    # ---- input / output ------------------------------------------------------------
    @op("input_bits", lambda self, value, owner, shape=None: self.only(
        owner, 2 * (_size(np.shape(value)) if value is not None else _size(shape))))
    def input_bits(self, value, owner, shape=None):
        """Boolean-share words given by party `owner` (the others pass None
        and the shape): like `input`, with XOR."""
        me = self.party_id
        if owner not in range(N):
            raise ValueError(f"input_bits: owner must be a party id in 0..3, got {owner}")
        if me == owner:
            shape = np.shape(value)
            value = as_ring_array(value, "input_bits value").reshape(shape)
        elif shape is None:
            raise ValueError(f"input_bits: party {me} is not the owner ({owner}) and must "
                             f"pass the shape")
        shape = tuple(shape)
        return self.bits_from_slots(self._owner_slots(value, owner, _size(shape), xor=True), shape)

    def _reveal_bits_cost(self, x):
        from .io import _reveal_cost
        return _reveal_cost(self, x)

    @op("reveal_bits", lambda self, x: self._reveal_bits_cost(x))
    def reveal_bits(self, x):
        """Open a boolean sharing to every party (after all pending checks):
        the uint64 words."""
        self._mine_bits(x, "reveal_bits")
        self.flush()
        me = self.party_id
        self.net.send((me - 1) % N, np.ascontiguousarray(self.slot(x, (me - 1) % N)))
        if self.check:
            self.net.send((me - 2) % N, self._slot_digest(x, (me - 2) % N))
            self.net.send((me + 1) % N, self._slot_digest(x, (me + 1) % N))
        return self._receive_slot(x, "reveal_bits", xor=True)
