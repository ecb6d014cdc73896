"""Rep3 conversions and comparisons: a2b (bit decomposition), b2a (bit
injection), ltz / msb and eqz. Imports mpcore, protocols.base, .boolean.

Every op is exact over the whole ring (no probabilistic step) and reveals
nothing: each message is masked by a PRG stream the receiver does not hold,
and the one value opened (in ltz / eqz / b2a) is the result XOR a random
bit that no single party knows.

The split. In rep3, x = s + t with s = x_L + x_{L+1} known to the "leader"
party L (it holds both slots) and t = x_{L+2} known to the two "helpers"
H1 = L+1 and H2 = L+2. So every bit circuit of x is a circuit of an addend
a known to ONE party and an addend b known to the two others. To balance the
load, a batch is cut in three chunks and party L leads chunk L; the three
chunks run in the same rounds, with one message per neighbour per round.

Round 1 (cross terms in one round). A GF(2) polynomial of a and b that is a
sum of products f_j(a) g_j(b) costs one round and no interaction between
the helpers: the leader sends each f_j(a), masked by a stream it shares with
the OTHER helper, to one helper; each helper ANDs what it holds of f_j(a)
(the masked value, or the mask) with g_j(b), which it knows, and XORs the
terms. The two helpers then hold a 2-out-of-2 XOR sharing of the value.
Round 2 turns it into a replicated sharing: with rho, sigma drawn from the
helpers' pair key, slot L+2 = rho, slot L+1 = u1 ^ sigma (H1 sends it to L),
slot L = u2 ^ sigma ^ rho (H2 sends it to L); L sees two words masked by
rho and sigma.

a2b(x) -> BoolShared, bits of x (two's complement) in one word per element.
  Round 1: the span-2 generate/propagate of every bit position,
  G2_i = g_i ^ p_i g_{i-1}, P2_i = p_i p_{i-1} (g = a&b, p = a^b), expand to
  (a)(b) ^ (a&a<<1)(b<<1) ^ (a<<1)(b&b<<1) and (a&a<<1) ^ (a)(b<<1) ^
  (a<<1)(b) ^ (b&b<<1): the leader sends a (to H1) and a & (a<<1) (to H2),
  masked; the masked a is also the third slot of a replicated sharing of p.
  Round 2: resharing of G2, P2. Rounds 3-7: Kogge-Stone levels at distance
  2, 4, 8, 16 (both AND gates G ^= P & (G<<d), P &= P<<d in one round) and
  32 (G only). Result: p ^ (G << 1). 7 rounds; words per element sent:
  2 by the leader and 2 by each helper (rounds 1-2, per chunk), then 9 by
  every party (rounds 3-7): 11 per party per element.

ltz(x) (= msb) -> arithmetic 0/1 sharing of [x < 0] (signed 64-bit), and
eqz(x) -> arithmetic 0/1 of [x == 0].
  MSB(a + b) = a63 ^ b63 ^ carry into bit 63. Setting bit 63 of a to 1 and
  of b to 0 (propagate, no generate) makes that carry the group generate of
  all 64 bits. x == 0 iff (~a) ^ (-b) is all ones (a = -b): the AND of all
  bits of e = ~a ^ (-b) is the group propagate of the same tree with (~a, -b).
  Round 1: group generate/propagate of the 16 nibbles directly. For a nibble
  G = g3 ^ p3 g2 ^ p3 p2 g1 ^ p3 p2 p1 g0 and P = p3 p2 p1 p0 expand into
  sum over the 15 non-empty subsets S of the nibble of a_S * c_S(b)
  (a_S = AND of the a bits in S; for G, c_S = b_k & prod(b_j, k < j, j not
  in S) with k = min S; for P, c_S = prod(b_j, j not in S), plus the constant
  prod(b_j)). The leader sends the 15 a-monomials of each nibble: 240 bits,
  in 4 words per element (2 to each helper).
  Round 2: resharing of the 16 nibble G and P bits (dense: 4 elements per
  word). Rounds 3-5: tree levels 16 -> 8 -> 4 -> 2 groups (G' = G_hi ^
  P_hi & G_lo, P' = P_hi & P_lo; eqz only P'), on dense bit vectors (even /
  odd bit split of the packed vector, so every word sent carries 64 useful
  gates). Round 6: the last AND, without resharing: each party XORs its
  3-out-of-3 share of the output bit with its share of a random bit r and
  sends it to both others, so c = bit ^ r is opened; then
  [bit] = c + (1 - 2c) [r] locally (B2A folded into the last AND round).
  [r] (boolean and arithmetic, a "daBit") is made in rounds 1-2 in the same
  messages: r = v ^ w, v = r_L ^ r_{L+1} known to the leader, w = r_{L+2}
  known to the helpers, v ^ w = v + w - 2vw; the leader sends v - rho (rho
  from its key with H2) to H1, then H1 and H2 each send the leader their
  product term masked by kappa / lambda from the helpers' key.
  6 rounds. Words per element, per chunk: leader 5 (round 1); each helper
  1.5 (ltz) / 1.25 (eqz) (round 2); every party 2 * (1/8 + 1/16 + 1/32) +
  2/64 (rounds 3-6; eqz: half of the AND term). Over the three chunks:
  3.14 words (25 bytes) per party per comparison (eqz 2.75 words), e.g.
  ltz of 10^5 elements: 6 rounds, 2.51 MB sent by each party.

b2a(x, bit=0) -> arithmetic 0/1 of bit `bit` of every word of a BoolShared.
  daBit as above (rounds 1-2) and c = bit ^ r opened by the usual reveal in
  round 1: 2 rounds, 1 word per element per party plus 1/64 (reveal).
"""
import numpy as np

from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from protocols.base import op

from .boolean import ONES, deinterleave, gather4, pack16, pack_bits, u64, unpack_bits, words_for

TOP = u64(1 << 63)
NIBBLE = u64(0x1111111111111111)
_ZERO = np.zeros(0, DTYPE)


def chunk_sizes(n):
    """Elements led by party 0, 1, 2 (the batch is cut in three)."""
    q, r = divmod(int(n), 3)
    return [q + (1 if L < r else 0) for L in range(3)]


def _cat(arrays):
    arrays = [np.ascontiguousarray(a, dtype=DTYPE).reshape(-1) for a in arrays]
    return np.concatenate(arrays) if arrays else _ZERO


def _cuts(flat, sizes):
    out, pos = [], 0
    for s in sizes:
        out.append(flat[pos:pos + s])
        pos += s
    return out


# ---- nibble polynomials (see the module docstring) ------------------------------
def _subset_bits(S):
    return [i for i in range(4) if S >> i & 1]


def _coefficients():
    """For each non-empty subset S (bit mask 1..15): the b-subset T_G(S) whose
    product multiplies a_S in G, and T_P(S) for P."""
    cg, cp = {}, {}
    for S in range(1, 16):
        k = min(_subset_bits(S))
        cg[S] = (1 << k) | sum(1 << j for j in range(k + 1, 4) if not S >> j & 1)
        cp[S] = 15 & ~S
    return cg, cp


_CG, _CP = _coefficients()


def _a_monomials(a):
    """The 15 a-monomials of every nibble, packed 4 per word: word q holds
    monomial S = 4q + k + 1 of nibble g at bit 4g + k. Returns (4, n)."""
    sh = [(a >> u64(i)) & NIBBLE for i in range(4)]
    words = np.zeros((4, a.size), DTYPE)
    for S in range(1, 16):
        m = None
        for i in _subset_bits(S):
            m = sh[i] if m is None else (m & sh[i])
        q, k = divmod(S - 1, 4)
        words[q] |= m << u64(k)
    return words


def _b_products(b):
    """prod of b bits over every subset T of a nibble, at bit 4g."""
    sh = [(b >> u64(i)) & NIBBLE for i in range(4)]
    prods = [np.full(b.shape, NIBBLE, DTYPE)]
    for T in range(1, 16):
        low = T & (T - 1)                     # T without its lowest bit
        i = (T & -T).bit_length() - 1
        prods.append(prods[low] & sh[i])
    return prods


def _helper_nibbles(alpha, b, want_g, add_const):
    """A helper's XOR share of the nibble G and P bits (at bit 4g), from what
    it holds of the a-monomials (`alpha`, 4 words per element) and b."""
    bp = _b_products(b)
    g = np.zeros(b.shape, DTYPE) if want_g else None
    p = bp[15].copy() if add_const else np.zeros(b.shape, DTYPE)
    for S in range(1, 16):
        q, k = divmod(S - 1, 4)
        aS = (alpha[q] >> u64(k)) & NIBBLE
        if want_g:
            g ^= aS & bp[_CG[S]]
        p ^= aS & bp[_CP[S]]
    return g, p


def _dense16(x):
    """Nibble bits (bit 4g of each element word) -> dense vector, 16 per element."""
    return pack16(gather4(x))


# ---- costs ---------------------------------------------------------------------
def _level_words(n):
    """Dense words per chunk of n elements at 16, 8, 4, 2, 1 groups."""
    w = [words_for(16 * n)]
    for _ in range(4):
        w.append(-(-w[-1] // 2))
    return w


def _cmp_cost(self, x, kind):
    n = x.size
    sent = [0, 0, 0]
    for L, nc in enumerate(chunk_sizes(n)):
        w16, w8, w4, w2, w1 = _level_words(nc)
        per_gate = 2 if kind == "ltz" else 1
        sent[L] += 5 * nc
        for h in (1, 2):
            sent[(L + h) % 3] += per_gate * w16 + nc
        for i in range(3):
            sent[i] += per_gate * (w8 + w4 + w2) + 2 * w1
    return Cost(6, tuple(sent))


def _a2b_cost(self, x):
    n = x.size
    sent = [9 * n] * 3
    for L, nc in enumerate(chunk_sizes(n)):
        sent[L] += 2 * nc
        for h in (1, 2):
            sent[(L + h) % 3] += 2 * nc
    return Cost(7, tuple(sent))


def _b2a_cost(self, x, bit=0):
    sent = [0, 0, 0]
    for L, nc in enumerate(chunk_sizes(x.size)):
        sent[L] += nc
        for h in (1, 2):
            sent[(L + h) % 3] += nc
        for i in range(3):
            sent[i] += words_for(nc)
    return Cost(2, tuple(sent))


class _Chunk:
    """One third of a batch: its elements [lo, hi), its leader, this party's role
    (0 leader, 1 = H1 = leader+1, 2 = H2 = leader+2), and protocol state."""

    def __init__(self, leader, lo, hi, role):
        self.leader, self.lo, self.hi, self.role = leader, lo, hi, role
        self.n = hi - lo


class Rep3Compare:
    # ---- chunk plumbing --------------------------------------------------------------
    def _chunks(self, n):
        out, lo = [], 0
        for L, nc in enumerate(chunk_sizes(n)):
            out.append(_Chunk(L, lo, lo + nc, (self.party_id - L) % 3))
            lo += nc
        return out

    def _by_role(self, chunks):
        """(chunk this party leads, chunk where it is H1, chunk where it is H2)."""
        return tuple(next(c for c in chunks if c.role == r) for r in (0, 1, 2))

    def _round(self, to_next, to_prev, n_from_next, n_from_prev):
        """One round: exactly one message to each neighbour (maybe empty)."""
        self.net.send(self.next_party, _cat(to_next))
        self.net.send(self.prev_party, _cat(to_prev))
        got_next = self.net.recv(self.next_party, n_from_next)
        got_prev = self.net.recv(self.prev_party, n_from_prev)
        return got_next, got_prev

    def _addends(self, x, c):
        """The leader's a = s (sum of its two slots) or the helpers' b = t."""
        p0 = x.parts[0].reshape(-1)[c.lo:c.hi]
        p1 = x.parts[1].reshape(-1)[c.lo:c.hi]
        if c.role == 0:
            return p0 + p1
        return p1 if c.role == 1 else p0              # slot L+2

    # ---- daBits: a random bit, boolean (packed) and arithmetic --------------------
    def _dabit_round1(self, c):
        """Draws (same order on both holders of each key); returns the leader's
        message v - rho to H1 (empty for helpers)."""
        nw = words_for(c.n)
        if c.role == 0:
            r0 = self.k_prev.next(nw)                  # slot L   (key L, H2)
            r1 = self.k_next.next(nw)                  # slot L+1 (key L, H1)
            rho = self.k_prev.next(c.n)
            c.r_bits = (r0, r1)
            v = unpack_bits(r0 ^ r1, c.n)
            c.rho, c.v_minus_rho = rho, v - rho
            return c.v_minus_rho
        if c.role == 1:
            r1 = self.k_prev.next(nw)
            r2 = self.k_next.next(nw)                  # slot L+2 (key H1, H2)
            c.r_bits = (r1, r2)
            c.w = unpack_bits(r2, c.n)
            return _ZERO
        r0 = self.k_next.next(nw)
        rho = self.k_next.next(c.n)
        r2 = self.k_prev.next(nw)
        c.r_bits = (r2, r0)
        c.rho, c.w = rho, unpack_bits(r2, c.n)
        return _ZERO

    def _dabit_round2(self, c, v_minus_rho=None):
        """Helpers: the masked product term for the leader (after the leader's
        round-1 message reached H1). Draws kappa, lambda from the helpers' key."""
        if c.role == 0:
            return _ZERO
        key = self.k_next if c.role == 1 else self.k_prev
        kappa, lam = key.next(c.n), key.next(c.n)
        if c.role == 1:
            c.r_arith = (v_minus_rho - u64(2) * v_minus_rho * c.w + lam, c.w - kappa - lam)
            return u64(0) - u64(2) * v_minus_rho * c.w + lam
        c.r_arith = (c.w - kappa - lam, c.rho - u64(2) * c.rho * c.w + kappa)
        return u64(0) - u64(2) * c.rho * c.w + kappa

    def _dabit_finish(self, c, d_from_h1, d_from_h2):
        if c.role == 0:
            c.r_arith = (c.rho + d_from_h2, c.v_minus_rho + d_from_h1)

    def _open_into_arith(self, c, cbits):
        """[bit] = c + (1 - 2c) [r] for the opened c = bit ^ r (packed words)."""
        cv = unpack_bits(cbits, c.n)
        f = u64(1) - u64(2) * cv
        parts = [f * c.r_arith[0], f * c.r_arith[1]]
        for k in self.public_slot_positions():
            parts[k] = parts[k] + cv
        return parts

    def _assemble(self, chunks, per_chunk, shape):
        parts = tuple(np.concatenate([pc[j] for pc in per_chunk]).reshape(shape)
                      for j in range(2))
        return self.wrap(parts)

    # ---- round 2 of the cross-term protocols: 2-of-2 (helpers) -> replicated ----
    def _reshare_helpers(self, c, u):
        """Helper's message to the leader and its two slots (the leader's two
        slots are the messages of H2 and H1)."""
        key = self.k_next if c.role == 1 else self.k_prev
        rho, sigma = key.next(u.size), key.next(u.size)
        if c.role == 1:
            msg = u ^ sigma
            return msg, (msg, rho)
        msg = u ^ sigma ^ rho
        return msg, (rho, msg)

    # ---- ltz / eqz -------------------------------------------------------------------
    def _cmp(self, x, kind):
        """Shared body of ltz ("ltz") and eqz ("eqz"): see the module docstring.
        Chunks are always visited in the order 0, 1, 2, so that both holders
        of every pair key draw from it in the same order."""
        self._mine(x, kind)
        chunks = self._chunks(x.size)
        lead, as_h1, as_h2 = self._by_role(chunks)
        want_g = kind == "ltz"

        # round 1: the leader's masked a-monomials (+ daBit word)
        to_next, to_prev = [], []
        for c in chunks:
            xa = self._addends(x, c)
            if c.role == 0:
                c.a63 = pack_bits(xa >> u64(63))
                W = _a_monomials((xa | TOP) if want_g else (xa ^ ONES))
                R01 = self.k_prev.next(2 * c.n).reshape(2, c.n)     # key (L, H2)
                R23 = self.k_next.next(2 * c.n).reshape(2, c.n)     # key (L, H1)
                dab = self._dabit_round1(c)
                to_next = [W[0] ^ R01[0], W[1] ^ R01[1], dab]
                to_prev = [W[2] ^ R23[0], W[3] ^ R23[1]]
                continue
            if c.role == 1:
                c.b63 = pack_bits(xa >> u64(63))
                c.mask = self.k_prev.next(2 * c.n).reshape(2, c.n)  # R23, key (L, H1)
            else:
                c.mask = self.k_next.next(2 * c.n).reshape(2, c.n)  # R01, key (L, H2)
            c.b = (xa & ~TOP) if want_g else (u64(0) - xa)
            self._dabit_round1(c)
        got_next, got_prev = self._round(to_next, to_prev, 2 * as_h2.n, 3 * as_h1.n)
        as_h1.alpha = np.concatenate([got_prev[:2 * as_h1.n].reshape(2, as_h1.n), as_h1.mask])
        as_h1.vmr = got_prev[2 * as_h1.n:]
        as_h2.alpha = np.concatenate([as_h2.mask, got_next.reshape(2, as_h2.n)])

        # round 2: helpers' nibble shares, reshared to the leader (+ daBit terms)
        out = {}
        for c in chunks:
            if c.role == 0:
                continue
            g, p = _helper_nibbles(c.alpha, c.b, want_g, add_const=c.role == 1)
            u = _cat([_dense16(g), _dense16(p)] if want_g else [_dense16(p)])
            msg, c.slots = self._reshare_helpers(c, u)
            d = self._dabit_round2(c, getattr(c, "vmr", None))
            out[c.role] = [msg, d]
        nb = (2 if want_g else 1) * words_for(16 * lead.n)
        got_next, got_prev = self._round(out[2], out[1], nb + lead.n, nb + lead.n)
        lead.slots = (got_prev[:nb], got_next[:nb])
        self._dabit_finish(lead, got_next[nb:], got_prev[nb:])

        # rounds 3-5: tree levels on dense vectors
        for c in chunks:
            w = words_for(16 * c.n)
            if want_g:
                c.G = self.wrap_bits(s[:w] for s in c.slots)
                c.P = self.wrap_bits(s[w:] for s in c.slots)
            else:
                c.P = self.wrap_bits(c.slots)
        for _ in range(3):
            pairs = []
            for c in chunks:
                Pe, Po = self._split_bits(c.P)
                if want_g:
                    Ge, c.Go = self._split_bits(c.G)
                    pairs += [(Po, Ge), (Po, Pe)]
                else:
                    pairs += [(Po, Pe)]
            res = self.and_many(pairs)
            for k, c in enumerate(chunks):
                if want_g:
                    c.G, c.P = c.Go ^ res[2 * k], res[2 * k + 1]
                else:
                    c.P = res[k]

        # round 6: last AND, opened under the daBit mask
        ys = []
        for c in chunks:
            Pe, Po = self._split_bits(c.P)
            if want_g:
                Ge, Go = self._split_bits(c.G)
                y = self._and_local(Po, Ge, "ltz") ^ Go.parts[0]
                if c.role == 0:
                    y = y ^ c.a63
                elif c.role == 1:
                    y = y ^ c.b63
            else:
                y = self._and_local(Po, Pe, "eqz")
            ys.append(y ^ c.r_bits[0])
        y = _cat(ys)
        got_next, got_prev = self._round([y], [y], y.size, y.size)
        opened = _cuts(y ^ got_next ^ got_prev, [words_for(c.n) for c in chunks])
        per_chunk = [self._open_into_arith(c, o) for c, o in zip(chunks, opened)]
        return self._assemble(chunks, per_chunk, x.shape)

    def _split_bits(self, v):
        """Even / odd bits of a dense boolean vector, slot by slot (local)."""
        ev = [deinterleave(p) for p in v.parts]
        return (self.wrap_bits(e for e, _ in ev), self.wrap_bits(o for _, o in ev))

    @op("ltz", lambda self, x: _cmp_cost(self, x, "ltz"))
    def ltz(self, x):
        """[x < 0] for x read as a signed 64-bit integer (= MSB of x), as an
        arithmetic 0/1 sharing. Exact on the whole ring. 6 rounds."""
        return self._cmp(x, "ltz")

    msb = ltz

    @op("eqz", lambda self, x: _cmp_cost(self, x, "eqz"))
    def eqz(self, x):
        """[x == 0] as an arithmetic 0/1 sharing. Exact. 6 rounds."""
        return self._cmp(x, "eqz")

    # ---- a2b ---------------------------------------------------------------------------
    @op("a2b", _a2b_cost)
    def a2b(self, x):
        """Bit decomposition: a BoolShared of x's shape whose words are x's
        bits. Exact. 7 rounds."""
        self._mine(x, "a2b")
        chunks = self._chunks(x.size)
        lead, as_h1, as_h2 = self._by_role(chunks)

        # round 1: masked a to H1, masked a & (a << 1) to H2
        for c in chunks:
            xa = self._addends(x, c)
            if c.role == 0:
                Ra = self.k_prev.next(c.n)               # key (L, H2)
                Raa = self.k_next.next(c.n)              # key (L, H1)
                Ma = xa ^ Ra
                c.p_slots = (Ra, Ma)
                to_next, to_prev = [Ma], [(xa & (xa << u64(1))) ^ Raa]
            else:
                c.b = xa
                c.mask = (self.k_prev if c.role == 1 else self.k_next).next(c.n)
        got_next, got_prev = self._round(to_next, to_prev, as_h2.n, as_h1.n)
        as_h1.al_a, as_h1.al_aa = got_prev, as_h1.mask
        as_h2.al_a, as_h2.al_aa = as_h2.mask, got_next

        # round 2: helpers' span-2 G, P shares, reshared
        out = {}
        for c in chunks:
            if c.role == 0:
                continue
            b, al_a, al_aa = c.b, c.al_a, c.al_aa
            bs = b << u64(1)
            bb = b & bs
            als = al_a << u64(1)
            g = (al_a & b) ^ (al_aa & bs) ^ (als & bb)
            p = al_aa ^ (al_a & bs) ^ (als & b)
            if c.role == 1:
                p ^= bb
                c.p_slots = (al_a, b)                    # (slot L+1 = Ma, slot L+2 = b)
            else:
                c.p_slots = (b, al_a)                    # (slot L+2 = b, slot L = Ra)
            msg, c.slots = self._reshare_helpers(c, _cat([g, p]))
            out[c.role] = [msg]
        got_next, got_prev = self._round(out[2], out[1], 2 * lead.n, 2 * lead.n)
        lead.slots = (got_prev, got_next)

        # rounds 3-7: Kogge-Stone on whole words
        G = self.wrap_bits(_cat([c.slots[j][:c.n] for c in chunks]) for j in range(2))
        P = self.wrap_bits(_cat([c.slots[j][c.n:] for c in chunks]) for j in range(2))
        p1 = self.wrap_bits(_cat([c.p_slots[j] for c in chunks]) for j in range(2))
        for d in (2, 4, 8, 16):
            t1, t2 = self.and_many([(P, G << d), (P, P << d)])
            G, P = G ^ t1, t2
        G = G ^ self.and_(P, G << 32)
        return (p1 ^ (G << 1)).reshape(x.shape)

    # ---- b2a -------------------------------------------------------------------------
    @op("b2a", _b2a_cost)
    def b2a(self, x, bit=0):
        """Bit injection: arithmetic 0/1 sharing of bit `bit` of every word of
        the BoolShared x (same shape). 2 rounds."""
        self._mine_bits(x, "b2a")
        if not 0 <= int(bit) < 64:
            raise ValueError(f"b2a: bit={bit} must be in [0, 64)")
        chunks = self._chunks(x.size)
        lead, as_h1, as_h2 = self._by_role(chunks)
        flat = [(p.reshape(-1) >> u64(bit)) & u64(1) for p in x.parts]
        opened_parts = []
        for c in chunks:
            m = self._dabit_round1(c)
            if c.role == 0:
                lead_msg = m
            bits = [pack_bits(f[c.lo:c.hi]) for f in flat]
            opened_parts.append([bits[j] ^ c.r_bits[j] for j in range(2)])
        # round 1: daBit word to H1; reveal of bit ^ r (slot i+1 to party i-1)
        reveal_msg = _cat([o[1] for o in opened_parts])
        got_next, got_prev = self._round([lead_msg], [reveal_msg], reveal_msg.size, as_h1.n)
        missing = _cuts(got_next, [words_for(c.n) for c in chunks])
        # round 2: helpers' product terms to the leader
        out = {}
        for c in chunks:
            if c.role:
                out[c.role] = [self._dabit_round2(c, got_prev if c.role == 1 else None)]
        got_next, got_prev = self._round(out[2], out[1], lead.n, lead.n)
        self._dabit_finish(lead, got_next, got_prev)
        per_chunk = [self._open_into_arith(c, o[0] ^ o[1] ^ mis)
                     for c, o, mis in zip(chunks, opened_parts, missing)]
        return self._assemble(chunks, per_chunk, x.shape)

