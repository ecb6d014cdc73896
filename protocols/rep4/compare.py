"""Rep4 conversions and comparisons: ltz (= msb), eqz, a2b (bit
decomposition), b2a (bit injection). Imports mpcore, protocols.base,
protocols.bitpack and the rep4 modules.

Every op is exact over the whole ring (nothing probabilistic), actively
secure with abort (every message is a JMP, or a send, vouched for by a
second party that knows the same value through the batched link hashes,
compared at the next `check`, before anything is revealed or returned), and
reveals nothing: every message is masked by a PRG stream its receiver does
not hold, and the one value opened (in ltz / eqz / b2a) is the result XOR a
random bit that no single party knows.

The split. x = a + b with a = x2 + x3 known to the pair A = {P0, P1} (both
hold slots 2 and 3) and b = x0 + x1 known to the pair B = {P2, P3}. A
bilinear form F(a) . G(b) (over GF(2), bitwise on packed words) costs one
JMP of the vector F by pair A, one of G by pair B, then four JMPs:
with [F] = (slot rA: mask M, slot oA: F ^ M) ({rA, oA} = {2, 3}) and
[G] = (slot rB: M', slot oB: G ^ M') ({rB, oB} = {0, 1}), F . G is the XOR
of the four cross terms F_k . G_l (k in {rA, oA}, l in {rB, oB}), and F_k .
G_l is known to the two parties that hold both slots, {0..3} - {k, l}: a
mixed pair, one party of A and one of B. Each cross term is JMPed by its
pair (routes: {0,2}: P0 -> P3, P2 backs up; {1,3}: P1 -> P2; {0,3}: P3 ->
P1; {1,2}: P2 -> P0, so each party sends one term and receives one). To
balance the first round the batch is cut in two chunks (the first a
multiple of 64 elements, so the dense bit vectors of the two chunks simply
concatenate): in chunk 0 P0 (backup P1) JMPs F to P2 and P3 (backup P2)
JMPs G to P1; in chunk 1 P1 -> P3 and P2 -> P0.

ltz(x, bits=None) -> arithmetic 0/1 sharing of [x < 0] (signed 64-bit), and
eqz(x, bits=None) -> [x == 0].
  MSB(a + b) = a63 ^ b63 ^ (carry into bit 63); with bit 63 of a forced to
  1 and of b to 0 (propagate, no generate) that carry is the group
  generate G of all 64 bit positions. x == 0 iff (~a) ^ (-b) is all ones,
  the group propagate P of (~a, -b). `bits=k` promises |x| < 2^(k-1):
  then the sign is bit k'-1 and x == 0 iff x = 0 mod 2^k', k' = 4N the
  smallest of 4, 8, 16, 32, 64 with k' >= k, so only the low k' bits of a
  and b enter the circuit (N nibbles instead of 16).
  Round 1: the 15 monomials prod_{i in S} a_i of every nibble (4 bits) of
  a, and the 15 co-monomials prod_{i not in S} b_i of b (16 cells per
  nibble, 16N bits per element, layout under "nibble polynomials" below;
  a constant cell of the top nibble carries a_{k'-1} / b_{k'-1}), JMPed by
  the pairs as above. In the same round the daBit's two halves (below).
  Round 2: the nibble G and P as bilinear forms of the two monomial
  vectors (G = g3 ^ p3 g2 ^ p3 p2 g1 ^ p3 p2 p1 g0 and P = p3 p2 p1 p0,
  g = a & b, p = a ^ b, expand into sum_S a_S c_S(b)), the four cross
  terms JMPed; P's two pure terms (a_0123, b_0123) are linear in the
  vectors. Dense: N bits per element for G, N for P.
  Rounds 3 .. 2 + log2 N: the carry tree on dense vectors, halving the
  groups (G' = G_hi ^ P_hi & G_lo, P' = P_hi & P_lo; the last level G
  only; eqz only P); the AND gates of `Rep4Boolean`.
  Last round: open d = bit ^ r (bit = G ^ a_{k'-1} ^ b_{k'-1}, or P) with
  r the daBit: party i gets slot i from party i+1 (party i+2 backs it up);
  then [bit] = d + (1 - 2d) [r] locally.
  daBit: r = rA ^ rB, rA = s2 ^ s3 and rB = s0 ^ s1 with s_j drawn from
  keys[j] (so the boolean sharing of r is free; pair A knows rA, pair B
  rB, no single party knows r). Arithmetic: [rA], [rB] JMPed by their
  pairs in round 1, [rA rB] by the four cross terms in round 2,
  [r] = [rA] + [rB] - 2 [rA rB].
  Rounds: 3 + log2 N (7 for the full ring). Words per element, all
  parties together: 2 * 16N/64 (round 1) + 4 * 2N/64 (round 2, eqz N/64)
  + about 6 * 2N/64 (tree; eqz 6 * N/64) + 4/64 (open) + 6 (daBit).
  Full-ring ltz: about 18.8 words (150 bytes) per comparison in total,
  4.7 words (37.6 bytes) per party, e.g. ltz of 10^5: 7 rounds, 3.8 MB
  sent by each party.

a2b(x) -> BoolShared of x's bits (two's complement). Round 1: the pairs
  JMP (a, a & (a << 1)) and (b, b & (b << 1)). Round 2: the span-2
  generate / propagate of every bit position, G2 = g ^ p (g << 1),
  P2 = p (p << 1), as bilinear forms of those vectors. Rounds 3-7:
  Kogge-Stone at distances 2, 4, 8, 16 (G and P) and 32 (G only). Result:
  p ^ (G << 1). 7 rounds, 4 + 8 + 4 * 12 + 6 = 66 words per element in
  total.

ltz_mul(x, y, bits=None) -> ([x < 0], [x < 0] y) in the rounds of ltz: the
  product [r] [y] of the daBit and y is computed in round 3 (beside the
  first tree level, or beside the opening without a tree; the routes of
  `mul`, half of the elements rotated by two parties for balance), then
  [b y] = d [y] + (1 - 2d) [r y] locally. relu(x) = x - ltz_mul(x, x)[1]
  (overrides the generic ltz-then-mul of protocols.nonlinear): 7 rounds,
  + 1.5 elements per element and party.

b2a(x, bit=0) -> arithmetic 0/1 of bit `bit` of every word of a BoolShared:
  the daBit (rounds 1-2) and the opening of bit ^ r in round 1: 2 rounds,
  6 words per element in total plus 4/64.

msb is ltz.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from protocols.base import op
from protocols.bitpack import (deinterleave, gather4, pack_bits, pack_fields, u64, unpack_bits,
                               words_for)

from .boolean import AND_ROUTES, and_halves, and_sent

N = 4
NIBBLE = 0x1111111111111111
# chunk roles: (sender A, backup A, receiver A, sender B, backup B, receiver B)
ROLES = ((0, 1, 2, 3, 2, 1), (1, 0, 3, 2, 3, 0))
# mixed pair -> (sender, backup, receiver) of its cross term
PAIR_ROUTE = {frozenset((0, 2)): (0, 2, 3), frozenset((1, 3)): (1, 3, 2),
              frozenset((0, 3)): (3, 0, 1), frozenset((1, 2)): (2, 1, 0)}


def chunk_sizes(n):
    """Elements of the two chunks; the first is a multiple of 64 unless it
    holds everything."""
    n0 = min(n, 64 * -(-n // 128))
    return n0, n - n0


def _chunks(n):
    out, lo = [], 0
    for c, nc in enumerate(chunk_sizes(n)):
        out.append((c, lo, lo + nc))
        lo += nc
    return out


def _roles(c):
    sA, bA, rA, sB, bB, rB = ROLES[c]
    return sA, bA, rA, 5 - rA, sB, bB, rB, 1 - rB


def _cross_terms(c):
    """The four (slot of the A vector, slot of the B vector, sender, backup,
    receiver) of chunk c, in registration order."""
    _, _, rA, oA, _, _, rB, oB = _roles(c)
    out = []
    for k, l in ((rA, rB), (rA, oB), (oA, rB), (oA, oB)):
        s, b, r = PAIR_ROUTE[frozenset(set(range(N)) - {k, l})]
        out.append((k, l, s, b, r))
    return out


def nibbles(bits, name="ltz"):
    """Nibbles N (1, 2, 4, 8, 16) of the circuit for the promise |x| < 2^(bits-1)."""
    if bits is None:
        return 16
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 64:
        raise ValueError(f"{name}: bits must be an integer in 1..64 or None, got {bits!r}")
    n = 1
    while 4 * n < bits:
        n *= 2
    return n


def _log2(n):
    return int(n).bit_length() - 1


# ---- nibble polynomials ------------------------------------------------------------
# A nibble's group generate and propagate as sums of a-monomials times
# b-monomials (a_S = prod_{i in S} a_i for a subset S of the nibble's 4
# bits, numbered by its bit mask 0..15; bbar_S = prod_{i not in S} b_i):
#   P = prod (a_i ^ b_i) = a_15 ^ bbar_0 ^ sum_{S=1..14} a_S bbar_S
#   G = g3 ^ p3 g2 ^ p3 p2 g1 ^ p3 p2 p1 g0 = sum_{S=1..15} a_S bbar_{S-1}
# (in g_k prod_{j>k} p_j the term a_S has k = min S, and its b-monomial is
# b_k times the bits above k not in S: the complement of S - 1). Layout: 16
# cells per nibble, cell c = 4q + k at bit 4g + k of word q (g the nibble);
# pair A's vector has a_c in cell c, pair B's bbar_c: both tensor products
# (word q = [cells of bits 0, 1] & [spread of the monomial of bits 2, 3 for
# q]), cheap to build. The constant cells are reused for the top bit of the
# addend (used by ltz): cell 0 of A's top nibble, cell 15 of B's. P pairs
# equal cells 1..14; G pairs A's cell c with B's cell c - 1.
def _pos_mask(cells):
    """A word mask with bit 4g + k set for every nibble g and every k in cells."""
    m = 0
    for k in cells:
        m |= NIBBLE << k
    return u64(m & 0xFFFFFFFFFFFFFFFF)


_K0, _K123, _K012 = _pos_mask((0,)), _pos_mask((1, 2, 3)), _pos_mask((0, 1, 2))
_SPREAD = u64(15)                          # bit 4g -> bits 4g .. 4g+3


def _field_mask(width):
    return u64((1 << width) - 1) if width < 64 else u64(0xFFFFFFFFFFFFFFFF)


def monomials(v, nib, side, top=None):
    """The monomials of every nibble of v (its low nib nibbles) as (4, n)
    words: a_c in cell c (side "a") or bbar_c (side "b"); `top` (0/1 per
    element) goes into A's cell 0 / B's cell 15 of the top nibble, the
    other constant cells are 0."""
    m = u64(NIBBLE) & _field_mask(4 * nib)
    v0 = v & m
    v1 = (v >> u64(1)) & m
    v2 = (v >> u64(2)) & m
    v3 = (v >> u64(3)) & m
    words = np.empty((4, v.size), DTYPE)
    if side == "a":
        low = (v0 << u64(1)) | (v1 << u64(2)) | ((v0 & v1) << u64(3))   # cells 0..3: 0, a0, a1, a0a1
        words[0] = low
        words[1] = (low | m) & (v2 * _SPREAD)
        words[2] = (low | m) & (v3 * _SPREAD)
        words[3] = (low | m) & ((v2 & v3) * _SPREAD)
        if top is not None:
            words[0] |= top << u64(4 * (nib - 1))
    else:
        low = (v0 & v1) | (v1 << u64(1)) | (v0 << u64(2))                # b0b1, b1, b0, 0
        words[0] = (low | (m << u64(3))) & ((v2 & v3) * _SPREAD)
        words[1] = (low | (m << u64(3))) & (v3 * _SPREAD)
        words[2] = (low | (m << u64(3))) & (v2 * _SPREAD)
        words[3] = low
        if top is not None:
            words[3] |= top << u64(4 * (nib - 1) + 3)
    return words


def _shift_cells(Y):
    """Y with every cell moved up by one (cell c - 1 -> cell c; cell 0 is
    0): B's vector aligned for G."""
    out = np.empty_like(Y)
    out[0] = (Y[0] << u64(1)) & _K123
    for q in range(1, 4):
        out[q] = ((Y[q] << u64(1)) & _K123) | ((Y[q - 1] >> u64(3)) & _K0)
    return out


def _fold(t):
    """XOR of the 4 cells of every nibble, at bit 4g (other bits garbage)."""
    t ^= t >> u64(1)
    t ^= t >> u64(2)
    return t


def _terms(X, Y, Yg, nib, want_g):
    """Cross term of the nibble G and P for one slot X of the A vector and
    one slot Y of the B vector (Yg = _shift_cells(Y), only for G): dense
    [G | P] (or [P]), nib bits per element each."""
    p = X[0] & Y[0] & _K123                    # cells 1..14
    p ^= X[1] & Y[1]
    p ^= X[2] & Y[2]
    p ^= X[3] & Y[3] & _K012
    p = _dense(_fold(p), nib)
    if not want_g:
        return p
    g = X[0] & Yg[0]                           # cells 1..15 (Yg's cell 0 is 0)
    g ^= X[1] & Yg[1]
    g ^= X[2] & Yg[2]
    g ^= X[3] & Yg[3]
    return np.concatenate([_dense(_fold(g), nib), p])


def pack_vec(X, nib):
    """(4, n) fields of 4*nib bits -> flat words (16*nib bits per element)."""
    w = 4 * nib
    if w == 64:
        return np.ascontiguousarray(X).reshape(-1)
    if w == 32:
        return np.concatenate([X[0] | (X[1] << u64(32)), X[2] | (X[3] << u64(32))])
    rec = X[0] | (X[1] << u64(w)) | (X[2] << u64(2 * w)) | (X[3] << u64(3 * w))
    if w == 16:
        return rec
    return pack_fields(rec, 4 * w)


def unpack_vec(flat, n, nib):
    """Inverse of pack_vec (linear: usable on shares)."""
    w = 4 * nib
    if w == 64:
        return flat.reshape(4, n)
    m = _field_mask(w)
    if w == 32:
        h0, h1 = flat[:n], flat[n:2 * n]
        return np.stack([h0 & m, h0 >> u64(32), h1 & m, h1 >> u64(32)])
    if w == 16:
        rec = flat
    else:
        t = np.uint32 if w == 8 else np.uint16
        rec = np.ascontiguousarray(flat).view(t)[:n].astype(DTYPE)
    return np.stack([(rec >> u64(q * w)) & m for q in range(4)])


def vec_words(n, nib):
    return words_for(16 * nib * n)


def _dense(x, nib):
    """Bits 4g (g < nib) of each element -> dense vector, nib bits per element."""
    return pack_fields(gather4(x), nib)


# ---- costs ---------------------------------------------------------------------------
def _zero_cost():
    return Cost(0, (0,) * N)


def _pair_round_sent(n, words_a, words_b, terms):
    """Words sent per party by the two pair rounds: round 1 (vectors of
    words_a(nc) words, daBit halves of nc) and round 2 (cross terms of
    terms(nc) words, + nc for the daBit product)."""
    sent = [0] * N
    for c, nc in enumerate(chunk_sizes(n)):
        if nc == 0:
            continue
        sA, _, _, sB, _, _ = ROLES[c]
        sent[sA] += words_a(nc)
        sent[sB] += words_b(nc)
        for p in range(N):            # each party sends one cross term per chunk
            sent[p] += terms(nc)
    return sent


def _cmp_cost(self, x, kind, bits=None):
    n = x.size
    nib = nibbles(bits, kind)
    if n == 0:
        return _zero_cost()
    want_g = kind == "ltz"
    sent = _pair_round_sent(n, lambda nc: vec_words(nc, nib) + nc,
                            lambda nc: vec_words(nc, nib) + nc,
                            lambda nc: (2 if want_g else 1) * words_for(nib * nc) + nc)
    groups = nib
    while groups > 1:
        w = words_for(n * groups // 2)
        count = 1 if (not want_g or groups == 2) else 2
        sent = [s + a for s, a in zip(sent, and_sent(count * w))]
        groups //= 2
    sent = [s + words_for(n) for s in sent]            # the opening
    return Cost(3 + _log2(nib), tuple(sent))


def _ltz_mul_cost(self, x, y, bits=None):
    c = _cmp_cost(self, x, "ltz", bits)
    if x.size == 0:
        return c
    return Cost(c.rounds, tuple(a + b for a, b in zip(c.elements_sent, and_sent(x.size))))


def _a2b_cost(self, x):
    n = x.size
    if n == 0:
        return _zero_cost()
    sent = _pair_round_sent(n, lambda nc: 2 * nc, lambda nc: 2 * nc, lambda nc: 2 * nc)
    for _ in range(4):
        sent = [s + a for s, a in zip(sent, and_sent(2 * n))]
    sent = [s + a for s, a in zip(sent, and_sent(n))]
    return Cost(7, tuple(sent))


def _b2a_cost(self, x, bit=0):
    n = x.size
    if n == 0:
        return _zero_cost()
    sent = _pair_round_sent(n, lambda nc: nc, lambda nc: nc, lambda nc: nc)
    sent = [s + words_for(n) for s in sent]
    return Cost(2, tuple(sent))


class Rep4Compare:
    # ---- helpers -------------------------------------------------------------------
    def _addends(self, x):
        """(a, b): a = x2 + x3 at P0, P1; b = x0 + x1 at P2, P3; None elsewhere."""
        me = self.party_id
        f = {j: np.ascontiguousarray(self.slot(x, j)).reshape(-1) for j in self.slots}
        a = f[2] + f[3] if me in (0, 1) else None
        b = f[0] + f[1] if me in (2, 3) else None
        return a, b

    def _random_bits(self, n):
        """A random boolean sharing of dense bits (slot j from keys[j]), and
        this party's rA (if in pair A) / rB (if in pair B) as 0/1 values."""
        me = self.party_id
        w = words_for(n)
        s = {j: self.keys[j].next(w) for j in sorted(self.slots)}
        rA = unpack_bits(s[2] ^ s[3], n) if me in (0, 1) else None
        rB = unpack_bits(s[0] ^ s[1], n) if me in (2, 3) else None
        return s, rA, rB

    def _pair_jmps(self, rnd, chunks, vec_a, vec_b, words, xor):
        """Round 1 of the pair structure: per chunk, JMP pair A's vector and
        pair B's vector. vec_a(lo, hi) / vec_b(lo, hi) give the flat vector
        (called only on the pair's members). Returns per-chunk {slot: words}."""
        me = self.party_id
        outs_a, outs_b = [], []
        for c, lo, hi in chunks:
            oa, ob = {}, {}
            outs_a.append(oa)
            outs_b.append(ob)
            if hi == lo:
                continue
            sA, bA, rA, _, sB, bB, rB, _ = _roles(c)
            w = words(hi - lo)
            rnd.jmp(sA, bA, rA, vec_a(lo, hi) if me in (0, 1) else None, oa, n=w, xor=xor)
            rnd.jmp(sB, bB, rB, vec_b(lo, hi) if me in (2, 3) else None, ob, n=w, xor=xor)
        return outs_a, outs_b

    def _cross_jmps(self, rnd, chunks, term, words, xor):
        """Round 2: per chunk c, the four cross terms term(c, k, l) (slot k of
        pair A's vector times slot l of pair B's) of the bilinear form, each
        JMPed by the mixed pair that knows it. Returns per-chunk {slot: words}."""
        me = self.party_id
        outs = []
        for c, lo, hi in chunks:
            out = {}
            outs.append(out)
            if hi == lo:
                continue
            for k, l, s, b, r in _cross_terms(c):
                v = term(c, k, l) if me in (s, b) else None
                rnd.jmp(s, b, r, v, out, n=words(hi - lo), xor=xor)
        return outs

    def _mul_register(self, rnd, xs, ys, n):
        """Register the 6 JMPs of the arithmetic product of two flat sharings
        ({slot: n values}) in Round `rnd`, the first half of the values with
        the routes of `mul`, the second rotated by two parties (like the AND
        gates: (2W0+W1, 2W0+W1, W0+2W1, W0+2W1) elements); returns a function
        giving the product ({slot: n values}) after rnd.run()."""
        me = self.party_id
        outs, lo = [], 0
        for routes, w in zip(AND_ROUTES, and_halves(n)):
            hi = lo + w
            out = {}
            if w:
                for kern, k, l, s, b, r in routes:
                    v = None
                    if me in (s, b):
                        fn = native.cross3 if kern == "cross3" else native.cross2
                        v = fn(np.ascontiguousarray(xs[k][lo:hi]), np.ascontiguousarray(xs[l][lo:hi]),
                               np.ascontiguousarray(ys[k][lo:hi]), np.ascontiguousarray(ys[l][lo:hi]))
                    rnd.jmp(s, b, r, v, out, n=w, xor=False)
            outs.append((out, w))
            lo = hi

        def result():
            return {j: np.concatenate([o[j] if j in o else np.zeros(w, DTYPE) for o, w in outs])
                    for j in self.slots}
        return result

    def _concat_slots(self, per_chunk, chunks, words):
        """Per-chunk {slot: words} (missing = 0) -> {slot: all chunks' words}."""
        return {j: np.concatenate([pc[j] if j in pc else np.zeros(words(hi - lo), DTYPE)
                                   for pc, (_, lo, hi) in zip(per_chunk, chunks)])
                for j in self.slots}

    def _dabit_arith(self, chunks, ra, rb, rr):
        """[r] = [rA] + [rB] - 2 [rA rB] as {slot: n values}."""
        out = {}
        for j in self.slots:
            pieces = []
            for c, lo, hi in chunks:
                v = np.zeros(hi - lo, DTYPE)
                if j in ra[c]:
                    v += ra[c][j]
                if j in rb[c]:
                    v += rb[c][j]
                if j in rr[c]:
                    v -= u64(2) * rr[c][j]
                pieces.append(v)
            out[j] = np.concatenate(pieces)
        return out

    def _open_round(self, rnd, d):
        """Register the opening of the boolean sharing d ({slot: words}):
        party i gets slot i from party i+1, party i+2 vouches. Returns a
        function giving the opened words after rnd.run()."""
        me = self.party_id
        idx = {}
        for i in range(N):
            s, b = (i + 1) % N, (i + 2) % N
            idx[i] = rnd.send(s, i, d[i] if me in (s, b) else None, backup=b,
                              n=len(next(iter(d.values()))))

        def opened(results):
            return d[self.slots[0]] ^ d[self.slots[1]] ^ d[self.slots[2]] ^ results[idx[me]]
        return opened

    def _inject(self, dbits, r_ar, shape):
        """[bit] = d + (1 - 2d) [r] for the public 0/1 values d."""
        f = u64(1) - u64(2) * dbits
        parts = [f * r_ar[j] for j in self.slots]
        for k in self.public_slot_positions():
            parts[k] = parts[k] + dbits
        return self.wrap(p.reshape(shape) for p in parts)

    def _xor_slots(self, *ds):
        return {j: np.bitwise_xor.reduce([d[j] for d in ds]) if len(ds) > 1 else ds[0][j].copy()
                for j in self.slots}

    def _split_bits(self, v):
        """{slot: dense} -> ({slot: even bits}, {slot: odd bits})."""
        ev = {j: deinterleave(v[j]) for j in self.slots}
        return {j: e for j, (e, _) in ev.items()}, {j: o for j, (_, o) in ev.items()}

    # ---- ltz / eqz -------------------------------------------------------------------
    def _cmp(self, x, kind, bits, y=None):
        from .protocol import Round
        self._mine(x, kind)
        nib = nibbles(bits, kind)
        shape, n = x.shape, x.size
        if n == 0:
            zero = self.wrap(np.zeros(shape, DTYPE) for _ in range(3))
            return zero if y is None else (zero, self.wrap(np.zeros(shape, DTYPE) for _ in range(3)))
        want_g = kind == "ltz"
        width = 4 * nib
        low = _field_mask(width)
        a, b = self._addends(x)
        ta = tb = a_top = b_top = None
        if want_g:
            topbit = u64(1) << u64(width - 1)
            if a is not None:
                ta, a_top = (a | topbit) & low, (a >> u64(width - 1)) & u64(1)
            if b is not None:
                tb, b_top = b & ~topbit & low, (b >> u64(width - 1)) & u64(1)
        else:
            if a is not None:
                ta = ~a & low
            if b is not None:
                tb = (u64(0) - b) & low
        rbits, rA, rB = self._random_bits(n)
        chunks = _chunks(n)
        vw = lambda nc: vec_words(nc, nib)                           # noqa: E731

        def vec(t, top, side):
            return lambda lo, hi: pack_vec(
                monomials(t[lo:hi], nib, side, None if top is None else top[lo:hi]), nib)

        # round 1: the monomial vectors and the daBit halves
        rnd = Round(self, (0,), full=True)
        va, vb = self._pair_jmps(rnd, chunks, vec(ta, a_top, "a"), vec(tb, b_top, "b"), vw,
                                 True)
        ra, rb = self._pair_jmps(rnd, chunks, lambda lo, hi: rA[lo:hi],
                                 lambda lo, hi: rB[lo:hi], lambda nc: nc, False)
        rnd.run()

        # round 2: nibble G and P (cross terms), the daBit product
        unpacked = {}

        def slot_vec(c, side, k):
            """Slot k of chunk c's vector of `side`, unpacked to (4, nc)."""
            key = (c, side, k)
            if key not in unpacked:
                _, lo, hi = chunks[c]
                unpacked[key] = unpack_vec((va if side == "a" else vb)[c][k], hi - lo, nib)
            return unpacked[key]

        def shifted(c, k):
            key = (c, "p", k)
            if key not in unpacked:
                unpacked[key] = _shift_cells(slot_vec(c, "b", k))
            return unpacked[key]

        ow = lambda nc: (2 if want_g else 1) * words_for(nib * nc)  # noqa: E731
        rnd = Round(self, (0,), full=True)
        gp = self._cross_jmps(
            rnd, chunks, lambda c, k, l: _terms(slot_vec(c, "a", k), slot_vec(c, "b", l),
                                                shifted(c, l) if want_g else None, nib, want_g),
            ow, True)
        rr = self._cross_jmps(rnd, chunks, lambda c, k, l: ra[c][k] * rb[c][l],
                              lambda nc: nc, False)
        rnd.run()

        # linear parts: P's pure terms a_0123, b_0123 and the two top bits
        m = u64(NIBBLE) & low
        gp_all = self._concat_slots(gp, chunks, ow)
        lin, top = {}, {}
        for j in self.slots:
            pl, tp = [], []
            for c, lo, hi in chunks:
                nc = hi - lo
                acc_p = np.zeros(words_for(nib * nc), DTYPE)
                acc_t = np.zeros(words_for(nc), DTYPE)
                for side, vv in (("a", va[c]), ("b", vb[c])):
                    if j in vv:
                        X = slot_vec(c, side, j)
                        # a_15 in A's cell 15, bbar_0 = b_15 in B's cell 0; the
                        # top bits in A's cell 0 / B's cell 15 of the top nibble
                        if side == "a":
                            pure, tb = (X[3] >> u64(3)) & m, X[0] >> u64(width - 4)
                        else:
                            pure, tb = X[0] & m, X[3] >> u64(width - 1)
                        acc_p ^= _dense(pure, nib)
                        if want_g:
                            acc_t ^= pack_bits(tb & u64(1))
                pl.append(acc_p)
                tp.append(acc_t)
            lin[j], top[j] = np.concatenate(pl), np.concatenate(tp)
        if want_g:
            G, P = {}, {}
            pos = 0
            for j in self.slots:
                gs, ps, pos = [], [], 0
                for c, lo, hi in chunks:
                    w = words_for(nib * (hi - lo))
                    gs.append(gp_all[j][pos:pos + w])
                    ps.append(gp_all[j][pos + w:pos + 2 * w])
                    pos += 2 * w
                G[j] = np.concatenate(gs)
                P[j] = np.concatenate(ps) ^ lin[j]
        else:
            G, P = None, {j: gp_all[j] ^ lin[j] for j in self.slots}

        # ltz_mul: [r y] rides along in round 3 (the first tree round, or
        # the opening if there is no tree)
        r_ar = self._dabit_arith(chunks, ra, rb, rr)
        ry = None
        if y is not None:
            ys = {j: np.ascontiguousarray(self.slot(y, j)).reshape(-1) for j in self.slots}

            def with_ry(rnd):
                return self._mul_register(rnd, r_ar, ys, n)
        else:
            def with_ry(rnd):
                return None

        # the carry tree
        groups = nib
        while groups > 1:
            Pe, Po = self._split_bits(P)
            w = len(Pe[self.slots[0]])
            extra = with_ry if groups == nib else None
            if want_g:
                Ge, Go = self._split_bits(G)
                if groups == 2:
                    (t,), got = self._and_flat_extra([(Po, Ge, w)], extra)
                    G, P = self._xor_slots(Go, t), None
                else:
                    (t, P), got = self._and_flat_extra([(Po, Ge, w), (Po, Pe, w)], extra)
                    G = self._xor_slots(Go, t)
            else:
                (P,), got = self._and_flat_extra([(Po, Pe, w)], extra)
            if extra is not None:
                ry = got
            groups //= 2

        # last round: open bit ^ r, then [bit] = d + (1 - 2d) [r]
        bit = self._xor_slots(G, top) if want_g else P
        d = self._xor_slots(bit, rbits)
        rnd = Round(self, (0,), xor=True, full=True)
        opened = self._open_round(rnd, d)
        ry_late = with_ry(rnd) if nib == 1 else None
        dbits = unpack_bits(opened(rnd.run()), n)
        out = self._inject(dbits, r_ar, shape)
        if y is None:
            return out
        ry = ry_late() if ry_late is not None else ry()
        # [bit y] = d [y] + (1 - 2d) [r y]
        f = u64(1) - u64(2) * dbits
        prod = self.wrap((dbits * ys[j] + f * ry[j]).reshape(shape) for j in self.slots)
        return out, prod

    @op("ltz", lambda self, x, bits=None: _cmp_cost(self, x, "ltz", bits))
    def ltz(self, x, bits=None):
        """[x < 0] for x read as a signed 64-bit integer (= MSB of x), as an
        arithmetic 0/1 sharing. Exact on the whole ring; `bits=k` promises
        |x| < 2^(k-1) (cheaper). 7 rounds (3 + log2 of ceil(k/4) rounded up
        to a power of two)."""
        return self._cmp(x, "ltz", bits)

    msb = ltz

    @op("ltz_mul", lambda self, x, y, bits=None: _ltz_mul_cost(self, x, y, bits))
    def ltz_mul(self, x, y, bits=None):
        """([x < 0], [x < 0] * y) for y of x's shape, in the rounds of ltz: the
        product [r] [y] with the daBit runs in round 3 (beside the carry
        tree); then [b y] = d [y] + (1 - 2d) [r y]."""
        self._mine(y, "ltz_mul", "y")
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(f"ltz_mul: y has shape {y.shape}, x has shape {x.shape}")
        return self._cmp(x, "ltz", bits, y)

    @op("relu", lambda self, x, bits=None: _ltz_mul_cost(self, x, x, bits))
    def relu(self, x, bits=None):
        """max(x, 0) = x - [x < 0] x with one fused ltz_mul: the rounds of ltz
        (7), any scale (integer or fixed point); `bits` as for ltz."""
        return self.sub(x, self.ltz_mul(x, x, bits)[1])

    @op("eqz", lambda self, x, bits=None: _cmp_cost(self, x, "eqz", bits))
    def eqz(self, x, bits=None):
        """[x == 0] as an arithmetic 0/1 sharing. Exact; `bits` as for ltz."""
        return self._cmp(x, "eqz", bits)

    # ---- a2b -----------------------------------------------------------------------------
    @op("a2b", _a2b_cost)
    def a2b(self, x):
        """Bit decomposition: a BoolShared of x's shape whose words are x's
        bits. Exact. 7 rounds."""
        from .protocol import Round
        self._mine(x, "a2b")
        shape, n = x.shape, x.size
        if n == 0:
            return self.wrap_bits(np.zeros(shape, DTYPE) for _ in range(3))
        a, b = self._addends(x)
        chunks = _chunks(n)
        one = u64(1)

        def vec(t):
            return lambda lo, hi: np.concatenate([t[lo:hi], t[lo:hi] & (t[lo:hi] << one)])

        rnd = Round(self, (0,), xor=True, full=True)
        va, vb = self._pair_jmps(rnd, chunks, vec(a), vec(b), lambda nc: 2 * nc, True)
        rnd.run()

        def term(c, X, Y):
            nc = X.size // 2
            xa, xaa, yb, ybb = X[:nc], X[nc:], Y[:nc], Y[nc:]
            xs, ys = xa << one, yb << one
            g = (xa & yb) ^ (xaa & ys) ^ (xs & ybb)
            p = (xa & ys) ^ (xs & yb)
            return np.concatenate([g, p])

        rnd = Round(self, (0,), xor=True, full=True)
        gp = self._cross_jmps(rnd, chunks, lambda c, k, l: term(c, va[c][k], vb[c][l]),
                              lambda nc: 2 * nc, True)
        rnd.run()
        G, P, p1 = {}, {}, {}
        for j in self.slots:
            gs, ps, ls = [], [], []
            for c, lo, hi in chunks:
                nc = hi - lo
                t = gp[c][j] if j in gp[c] else np.zeros(2 * nc, DTYPE)
                lin_p = np.zeros(nc, DTYPE)          # p = a ^ b
                lin_pp = np.zeros(nc, DTYPE)         # a & a<<1 ^ b & b<<1
                for vv in (va[c], vb[c]):
                    if j in vv:
                        lin_p ^= vv[j][:nc]
                        lin_pp ^= vv[j][nc:]
                gs.append(t[:nc])
                ps.append(t[nc:] ^ lin_pp)
                ls.append(lin_p)
            G[j], P[j], p1[j] = np.concatenate(gs), np.concatenate(ps), np.concatenate(ls)
        for dist in (2, 4, 8, 16):
            sh = u64(dist)
            t1, t2 = self._and_flat([(P, {j: G[j] << sh for j in self.slots}, n),
                                     (P, {j: P[j] << sh for j in self.slots}, n)])
            G, P = self._xor_slots(G, t1), t2
        t, = self._and_flat([(P, {j: G[j] << u64(32) for j in self.slots}, n)])
        G = self._xor_slots(G, t)
        return self.bits_from_slots({j: p1[j] ^ (G[j] << one) for j in self.slots}, shape)

    # ---- b2a -------------------------------------------------------------------------
    @op("b2a", _b2a_cost)
    def b2a(self, x, bit=0):
        """Bit injection: arithmetic 0/1 sharing of bit `bit` of every word of
        the BoolShared x (same shape). 2 rounds."""
        from .protocol import Round
        self._mine_bits(x, "b2a")
        if not 0 <= int(bit) < 64:
            raise ValueError(f"b2a: bit={bit} must be in [0, 64)")
        shape, n = x.shape, x.size
        if n == 0:
            return self.wrap(np.zeros(shape, DTYPE) for _ in range(3))
        sh = u64(int(bit))
        bits = {j: pack_bits((np.ascontiguousarray(self.slot(x, j)).reshape(-1) >> sh) & u64(1))
                for j in self.slots}
        rbits, rA, rB = self._random_bits(n)
        chunks = _chunks(n)
        rnd = Round(self, (0,), full=True)
        ra, rb = self._pair_jmps(rnd, chunks, lambda lo, hi: rA[lo:hi],
                                 lambda lo, hi: rB[lo:hi], lambda nc: nc, False)
        opened = self._open_round(rnd, self._xor_slots(bits, rbits))
        dbits = unpack_bits(opened(rnd.run()), n)
        rnd = Round(self, (0,), full=True)
        rr = self._cross_jmps(rnd, chunks, lambda c, k, l: ra[c][k] * rb[c][l],
                              lambda nc: nc, False)
        rnd.run()
        return self._inject(dbits, self._dabit_arith(chunks, ra, rb, rr), shape)
