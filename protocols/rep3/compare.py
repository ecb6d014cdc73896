"""Rep3 comparisons: ltz / msb, eqz, and ltz_mul (y * [x < 0] in the same
rounds). Imports mpcore, protocols.base, protocols.bitpack, .conversion.

ltz(x, bits=None) -> arithmetic 0/1 sharing of [x < 0]; eqz(x, bits=None)
-> [x == 0]. Exact, nothing revealed (the one opened value is the result
XOR a daBit, see conversion.py for the split into leader / helpers, the
three chunks and daBits).

Bounded inputs. `bits=k` (1 <= k <= 64) promises that x, read as a signed
integer, satisfies |x| < 2^(k-1); None means k = 64, exact on the whole
ring. Claim: under that promise only the low k bits of the addends
a = x_L + x_{L+1} and b = x_{L+2} matter.
  ltz. x ≡ a + b (mod 2^k) and x in [-2^(k-1), 2^(k-1)), so x mod 2^k is
  x + 2^k [x < 0], which is >= 2^(k-1) iff x < 0: [x < 0] is bit k-1 of
  (a + b) mod 2^k = a_{k-1} ^ b_{k-1} ^ c_{k-1}, where c_{k-1} is the carry
  into bit k-1 of a + b, the group generate of bits 0..k-2 of (a, b).
  eqz. If |x| < 2^(k-1), x == 0 iff x ≡ 0 (mod 2^(k-1)) (the only multiple
  of 2^(k-1) in the range is 0), iff (a + b) mod 2^(k-1) = 0, iff a ≡ -b,
  iff the low k-1 bits of e = ~a ^ (-b) are all ones: the group propagate
  of bits 0..k-2 of (~a, -b) (k = 1: x = 0, the empty group, P = 1).
  bits=None: all 64 bits of e (exact on the whole ring).
So both circuits run on the low k-1 bits (eqz with bits=None: 64), split
into g nibbles (g = 1, 2, 4, 8, 16, the smallest power of two with 4g >=
the bits used). The bits above them, up to 4g-1, are padding with a-bit 1
and b-bit 0 (generate 0, propagate 1), which leaves the group generate and
propagate unchanged.

Rounds (g nibbles; rounds = 2 + log2 g: 64 bits 6, 33 bits 5, 17 bits 4,
9 bits 3, 5 bits 2).
  Round 1: the leader sends the 15 a-monomials of every nibble (AND of the
  a bits of each non-empty subset S; ltz with g = 1 also bit k-1 of a) as
  bit-sliced blocks (one bit per element: 15 g blocks of ceil(n_c / 64)
  words), half of the words to each helper, masked by the key it shares
  with the other helper; plus the daBit word (v - rho) to H1. Each helper's
  XOR share of a nibble's G (ltz) and P is then the XOR of (its share of
  a_S) AND (a product of its own b bits) over S: native.cmp_helper, 64
  elements per word operation (see native/compare.cpp).
  The nibble bits are kept as bit blocks: block j of a chunk holds nibble
  j of every element, one bit per element (wb words per block, wb = words
  for the largest chunk), blocks in bit-reversed order so that the low and
  high halves of every tree level are contiguous.
  g >= 2. Round 2: the helpers reshare the G, P blocks to the leader (and
  send their daBit terms). Rounds 3 .. 1 + log2 g: tree levels on all three
  chunks at once, G' = G_hi ^ P_hi G_lo and P' = P_hi P_lo (eqz: P only),
  each one AND round. Last round: the last AND without resharing, XOR the
  party's daBit slot (and a_{k-1} at the leader, b_{k-1} at H1 for ltz),
  sent to both neighbours: c = bit ^ r is opened; [bit] = c + (1-2c)[r].
  g = 1. The helpers already hold a 2-of-2 XOR sharing u1 ^ u2 of the
  result after round 1. Round 2 opens c = bit ^ r directly: H1 sends
  u1 ^ r_{L+1} ^ mu, H2 sends u2 ^ r_{L+2} ^ r_L ^ mu (mu from the helpers'
  key) to the leader and to each other, each masked for every receiver;
  the daBit terms travel in the same messages. 2 rounds.

ltz_mul(x, y, bits=None) -> ([x < 0], [x < 0] * y) (and relu(x, bits),
which overrides the generic Nonlinear one, = x - ltz_mul(x, x)): the product
[bit] y = c y + (1 - 2c) [r y] is local once c is open, and [r y] is an
ordinary multiplication that rides in round 3 (g >= 2: no extra round;
g = 1: one more round). So relu(x) = x - ltz_mul(x, x) costs the rounds of
ltz alone.

Cost (64-bit words; per chunk of n_c elements, wb words per block, M =
15 g (+1) monomial blocks, W = M ceil(n_c / 64)): round 1 the leader sends
ceil(W/2) + n_c to H1 and the rest to H2; round 2 each helper sends
ng g wb + n_c (ng = 2 for ltz, 1 for eqz) to the leader (g = 1: wb + n_c,
and wb to the other helper); every tree level from g' to g'/2 groups costs
every party ng (g'/2) 3 wb; the last round 3 wb to each neighbour; ltz_mul
adds one word per element per party. About: 64 bits ltz 3.05 words
(24 bytes) per party per comparison, eqz 2.7; 33 bits 2.0 (16 bytes);
5 bits 1.1.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from protocols.base import op
from protocols.bitpack import words_for

from .conversion import chunk_sizes  # noqa: F401  (re-exported: tests and callers)

_ZERO = np.zeros(0, DTYPE)
_MODE = {"ltz": 0, "eqz": 1}


def cmp_width(kind, bits):
    """(k, g): the kernel's bit parameter (ltz: k; eqz: the number of low bits
    that must be zero, k - 1, or 64 for the whole ring) and the nibbles."""
    if bits is None:
        k = 64
    else:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 64:
            raise ValueError(f"{kind}: bits must be an integer in 1..64 or None, got {bits!r}")
        k = int(bits) if kind == "ltz" else int(bits) - 1
    used = k - 1 if kind == "ltz" else k
    g = 1
    while 4 * g < used:
        g *= 2
    return k, g


def cmp_rounds(g):
    return 2 + g.bit_length() - 1


def _monomial_blocks(kind, g):
    return 15 * g + (1 if kind == "ltz" and g == 1 else 0)


def _cmp_cost(self, x, kind, bits=None, mul=False):
    n = x.size
    _, g = cmp_width(kind, bits)
    ng = 2 if kind == "ltz" else 1
    sizes = chunk_sizes(n)
    wb = words_for(sizes[0])
    M = _monomial_blocks(kind, g)
    sent = [0, 0, 0]
    for L, nc in enumerate(sizes):
        sent[L] += M * words_for(nc) + nc
        for h in (1, 2):
            sent[(L + h) % 3] += (ng * g * wb if g > 1 else 2 * wb) + nc
    gc = g
    while gc > 2:
        gc //= 2
        for i in range(3):
            sent[i] += ng * gc * 3 * wb
    rounds = cmp_rounds(g)
    for i in range(3):
        if g > 1:
            sent[i] += 6 * wb
        sent[i] += n if mul else 0
    if mul and g == 1:
        rounds += 1
    return Cost(rounds, tuple(sent))


class Rep3Compare:
    @op("ltz", lambda self, x, bits=None: _cmp_cost(self, x, "ltz", bits))
    def ltz(self, x, bits=None):
        """[x < 0] for x read as a signed 64-bit integer (= MSB of x), as an
        arithmetic 0/1 sharing. bits=k promises |x| < 2^(k-1) (fewer rounds
        and bytes, see the module docstring); None: exact on the whole ring,
        6 rounds."""
        return self._cmp(x, "ltz", bits)[0]

    msb = ltz

    @op("eqz", lambda self, x, bits=None: _cmp_cost(self, x, "eqz", bits))
    def eqz(self, x, bits=None):
        """[x == 0] as an arithmetic 0/1 sharing. bits=k promises
        |x| < 2^(k-1); None: exact on the whole ring, 6 rounds."""
        return self._cmp(x, "eqz", bits)[0]

    @op("ltz_mul", lambda self, x, y, bits=None: _cmp_cost(self, x, "ltz", bits, True))
    def ltz_mul(self, x, y, bits=None):
        """([x < 0], [x < 0] * y) for y of x's shape, in the rounds of ltz
        (plus one if the circuit has a single nibble)."""
        self._mine(y, "ltz_mul", "y")
        if tuple(y.shape) != tuple(x.shape):
            raise ValueError(f"ltz_mul: y has shape {y.shape}, x has shape {x.shape}")
        return self._cmp(x, "ltz", bits, y)

    @op("relu", lambda self, x, bits=None: _cmp_cost(self, x, "ltz", bits, True))
    def relu(self, x, bits=None):
        """max(x, 0) = x - [x < 0] x in the rounds of one ltz (fused ltz_mul)."""
        return self.sub(x, self._cmp(x, "ltz", bits, x)[1])

    # ---- the circuit -----------------------------------------------------------------
    def _and_round(self, pairs, extra=None):
        """One AND round over slot pairs [((x0, x1), (y0, y1)), ...] of
        contiguous arrays: the replicated results, as (z, z_next) per pair.
        `extra` (optional, 3-of-3 additive ring elements) rides along to the
        previous party; returns (results, extra from the next party)."""
        sizes = [p[0][0].size for p in pairs]
        total = sum(sizes)
        z = self.zero_bits((total,))
        pos = 0
        for ((x0, x1), (y0, y1)), s in zip(pairs, sizes):
            native.and_cross3(x0.reshape(-1), x1.reshape(-1), y0.reshape(-1), y1.reshape(-1),
                              zero=z[pos:pos + s], out=z[pos:pos + s])
            pos += s
        n_extra = 0 if extra is None else extra.size
        self.net.send(self.prev_party, z if extra is None else np.concatenate([z, extra]))
        got = self.net.recv(self.next_party, total + n_extra)
        out, pos = [], 0
        for ((x0, _), _), s in zip(pairs, sizes):
            out.append((z[pos:pos + s].reshape(x0.shape), got[pos:pos + s].reshape(x0.shape)))
            pos += s
        return out, (got[total:] if extra is not None else None)

    def _cmp(self, x, kind, bits=None, y=None):
        """Shared body of ltz, eqz and ltz_mul (module docstring). Returns
        (bit, bit * y or None). Chunks are always visited in the order
        0, 1, 2, so that both holders of every pair key draw from it in the
        same order."""
        self._mine(x, kind)
        k, g = cmp_width(kind, bits)
        mode = _MODE[kind]
        ng = 2 - mode
        chunks = self._chunks(x.size)
        lead, as_h1, as_h2 = self._by_role(chunks)
        wb = words_for(chunks[0].n)
        M = _monomial_blocks(kind, g)
        f0, f1 = x.parts[0].reshape(-1), x.parts[1].reshape(-1)
        top = mode == 0 and g > 1           # a_{k-1} ^ b_{k-1} added in the last round

        # round 1: the leader's masked monomials (+ daBit word)
        for c in chunks:
            c.nw = wb
            W = M * words_for(c.n)
            c.w1 = (W + 1) // 2
            if c.role == 0:
                a = f0[c.lo:c.hi] + f1[c.lo:c.hi]
                mono = native.cmp_monomials(a, mode, k, g)
                R01 = self.k_prev.next(c.w1)                 # key (L, H2)
                R23 = self.k_next.next(W - c.w1)             # key (L, H1)
                dab = self._dabit_round1(c)
                to_next = [mono[:c.w1] ^ R01, dab]
                to_prev = [mono[c.w1:] ^ R23]
                if top:
                    c.top = native.bit_column(a, k - 1, wb)
            else:
                c.b = np.ascontiguousarray((f1 if c.role == 1 else f0)[c.lo:c.hi])   # slot L+2
                if c.role == 1:
                    c.mask = self.k_prev.next(W - c.w1)      # key (L, H1)
                else:
                    c.mask = self.k_next.next(c.w1)          # key (L, H2)
                self._dabit_round1(c)
                if top and c.role == 1:
                    c.top = native.bit_column(c.b, k - 1, wb)
        W2 = M * words_for(as_h2.n)
        got_next, got_prev = self._round(to_next, to_prev, W2 - as_h2.w1, as_h1.w1 + as_h1.n)
        vmr = got_prev[as_h1.w1:]
        for c, alpha in ((as_h1, (got_prev[:as_h1.w1], as_h1.mask)), (as_h2, (as_h2.mask, got_next))):
            c.u = native.cmp_helper(np.concatenate(alpha), c.b, mode, k, g, c.role == 1, wb)

        if g == 1:
            return self._open_single(chunks, lead, as_h1, as_h2, vmr, wb, x, y)

        # round 2: helpers' nibble blocks, reshared to the leader (+ daBit terms)
        out = {}
        for c in chunks:
            if c.role:
                msg, c.slots = self._reshare_helpers(c, c.u.reshape(-1))
                out[c.role] = [msg, self._dabit_round2(c, vmr if c.role == 1 else None)]
        nb = ng * g * wb
        got_next, got_prev = self._round(out[2], out[1], nb + lead.n, nb + lead.n)
        lead.slots = (got_prev[:nb], got_next[:nb])
        self._dabit_finish(lead, got_next[nb:], got_prev[nb:])
        S = [np.stack([c.slots[j].reshape(ng, g, wb) for c in chunks], axis=2) for j in (0, 1)]
        P = (S[0][ng - 1], S[1][ng - 1])                     # (g, 3, wb) per slot
        G = (S[0][0], S[1][0]) if mode == 0 else None
        ry_msg = self._ry_local(chunks, y) if y is not None else None

        # tree levels, all chunks at once
        gc = g
        while gc > 2:
            h = gc // 2
            Ph = (P[0][h:], P[1][h:])
            pairs = [(Ph, (P[0][:h], P[1][:h]))]
            if mode == 0:
                pairs.insert(0, (Ph, (G[0][:h], G[1][:h])))
            res, ry_got = self._and_round(pairs, ry_msg)
            if ry_msg is not None:
                ry = (ry_msg, ry_got)
                ry_msg = None
            if mode == 0:
                G = (G[0][h:] ^ res[0][0], G[1][h:] ^ res[0][1])
            P = res[-1]
            gc = h

        # last round: the last AND, masked by the daBit, opened to everyone
        z = self.zero_bits((3 * wb,))
        lo = G if mode == 0 else P
        y3 = native.and_cross3(P[0][1].reshape(-1), P[1][1].reshape(-1), lo[0][0].reshape(-1),
                               lo[1][0].reshape(-1), zero=z).reshape(3, wb)
        if mode == 0:
            y3 ^= G[0][1]
        for c in chunks:
            y3[c.leader] ^= c.r_bits[0]
            if top and c.role in (0, 1):
                y3[c.leader] ^= c.top
        to_prev = [y3] if ry_msg is None else [y3, ry_msg]
        got_next, got_prev = self._round([y3], to_prev, 3 * wb + (0 if ry_msg is None else x.size),
                                         3 * wb)
        if ry_msg is not None:
            ry = (ry_msg, got_next[3 * wb:])
        opened = y3 ^ got_next[:3 * wb].reshape(3, wb) ^ got_prev.reshape(3, wb)
        return self._finish_cmp(chunks, opened, x, y, ry if y is not None else None)

    def _ry_local(self, chunks, y):
        """This party's 3-of-3 share of r * y (r: the daBits, concatenated)."""
        r0 = np.concatenate([c.r_arith[0] for c in chunks])
        r1 = np.concatenate([c.r_arith[1] for c in chunks])
        yf = [np.ascontiguousarray(p.reshape(-1)) for p in y.parts]
        return native.cross3(r0, r1, yf[0], yf[1], zero=self.zero_share((r0.size,)))

    def _open_single(self, chunks, lead, as_h1, as_h2, vmr, wb, x, y):
        """g = 1: round 2 opens c = bit ^ r from the helpers' 2-of-2 sharing."""
        mu1 = self.k_next.next(wb)                          # H1: key (H1, H2)
        m1 = as_h1.u[0].reshape(-1) ^ as_h1.r_bits[0] ^ mu1        # ltz: G, eqz: P
        d1 = self._dabit_round2(as_h1, vmr)
        mu2 = self.k_prev.next(wb)                          # H2: key (H1, H2)
        m2 = as_h2.u[0].reshape(-1) ^ as_h2.r_bits[0] ^ as_h2.r_bits[1] ^ mu2
        d2 = self._dabit_round2(as_h2)
        to_next, to_prev, n_next, n_prev = [], [], [], []
        for c in chunks:
            if c.role == 0:
                n_next.append(wb + c.n)
                n_prev.append(wb + c.n)
            elif c.role == 1:
                to_next.append(m1)
                to_prev += [m1, d1]
                n_next.append(wb)
            else:
                to_next += [m2, d2]
                to_prev.append(m2)
                n_prev.append(wb)
        got_next, got_prev = self._round(to_next, to_prev, sum(n_next), sum(n_prev))
        # cut the messages per chunk (in chunk order)
        pn = pp = 0
        opened = np.zeros((3, wb), DTYPE)
        for c in chunks:
            if c.role == 0:
                h1 = got_next[pn:pn + wb + c.n]
                h2 = got_prev[pp:pp + wb + c.n]
                pn += wb + c.n
                pp += wb + c.n
                self._dabit_finish(c, h1[wb:], h2[wb:])
                opened[c.leader] = h1[:wb] ^ h2[:wb]
            elif c.role == 1:
                opened[c.leader] = m1 ^ got_next[pn:pn + wb]
                pn += wb
            else:
                opened[c.leader] = m2 ^ got_prev[pp:pp + wb]
                pp += wb
        bit, _ = self._finish_cmp(chunks, opened, x, None, None)
        if y is None:
            return bit, None
        return bit, self._mul_inline(bit, y)

    def _mul_inline(self, a, b):
        """a * b (same shapes) without a nested op record: one round."""
        z = native.cross3(*(np.ascontiguousarray(p.reshape(-1)) for p in a.parts + b.parts),
                          zero=self.zero_share((a.size,)))
        self.net.send(self.prev_party, z)
        return self.wrap((z.reshape(a.shape), self.net.recv(self.next_party, z.size)
                          .reshape(a.shape)))

    def _finish_cmp(self, chunks, opened, x, y, ry):
        """[bit] = c + (1 - 2c)[r] (and [bit] y = c y + (1 - 2c)[r y]) from the
        opened words c (3 chunks x wb), in one native pass."""
        r0 = np.concatenate([c.r_arith[0] for c in chunks])
        r1 = np.concatenate([c.r_arith[1] for c in chunks])
        pub = self.public_slot_positions()
        kw = {}
        if ry is not None:
            kw = dict(ry0=ry[0], ry1=ry[1], y0=np.ascontiguousarray(y.parts[0].reshape(-1)),
                      y1=np.ascontiguousarray(y.parts[1].reshape(-1)))
        out = native.open_b2a(np.ascontiguousarray(opened).reshape(-1), opened.shape[1],
                              [c.n for c in chunks], r0, r1, 0 in pub, 1 in pub, **kw)
        shape = x.shape
        bit = self.wrap(p.reshape(shape) for p in out[:2])
        if ry is None:
            return bit, None
        return bit, self.wrap(p.reshape(shape) for p in out[2:])
