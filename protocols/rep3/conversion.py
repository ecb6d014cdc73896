"""Rep3 conversions and the machinery they share with the comparisons:
a2b (bit decomposition), b2a (bit injection), the three-chunk split and
daBits. Imports mpcore, protocols.base, protocols.bitpack.

Every op is exact over the whole ring (no probabilistic step) and reveals
nothing: each message is masked by a PRG stream the receiver does not hold,
and the one value opened (in b2a, and in compare.py's ltz / eqz) is the
result XOR a random bit that no single party knows.

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

daBits. A random bit r, both boolean (slots r_L, r_{L+1}, r_{L+2}) and
arithmetic, made in rounds 1-2 alongside a circuit's own messages:
r = v ^ w, v = r_L ^ r_{L+1} known to the leader, w = r_{L+2} known to the
helpers, v ^ w = v + w - 2vw; the leader sends v - rho (rho from its key
with H2) to H1, then H1 and H2 each send the leader their product term
masked by kappa / lambda from the helpers' key. Opening c = bit ^ r gives
[bit] = c + (1 - 2c) [r] locally (`_open_into_arith`).

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

b2a(x, bit=0) -> arithmetic 0/1 of bit `bit` of every word of a BoolShared.
  daBit as above (rounds 1-2) and c = bit ^ r opened by the usual reveal in
  round 1: 2 rounds, 1 word per element per party plus 1/64 (reveal).
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ledger import Cost
from mpcore.ring import DTYPE
from protocols.base import op
from protocols.bitpack import pack_bits, u64, unpack_bits, words_for

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
        self.nw = words_for(self.n)      # words of this chunk's packed bits (a circuit may widen it)

class Rep3Conversion:
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
        nw = c.nw
        if c.role == 0:
            r0 = self.k_prev.next(nw)                  # slot L   (key L, H2)
            r1 = self.k_next.next(nw)                  # slot L+1 (key L, H1)
            rho = self.k_prev.next(c.n)
            c.r_bits = (r0, r1)
            c.rho, c.v_minus_rho = rho, native.dabit_leader(r0, r1, rho)   # v - rho
            return c.v_minus_rho
        if c.role == 1:
            r1 = self.k_prev.next(nw)
            r2 = self.k_next.next(nw)                  # slot L+2 (key H1, H2)
            c.r_bits = (r1, r2)
            c.w_bits = r2                              # w = r_{L+2}, packed
            return _ZERO
        r0 = self.k_next.next(nw)
        rho = self.k_next.next(c.n)
        r2 = self.k_prev.next(nw)
        c.r_bits = (r2, r0)
        c.rho, c.w_bits = rho, r2
        return _ZERO

    def _dabit_round2(self, c, v_minus_rho=None):
        """Helpers: the masked product term for the leader (after the leader's
        round-1 message reached H1). Draws kappa, lambda from the helpers' key.
        H1: -2 (v - rho) w + lambda, slots (v - rho - 2 (v - rho) w + lambda,
        w - kappa - lambda); H2: -2 rho w + kappa, slots (w - kappa - lambda,
        rho - 2 rho w + kappa) (native.dabit_helper, one pass)."""
        if c.role == 0:
            return _ZERO
        key = self.k_next if c.role == 1 else self.k_prev
        kappa, lam = key.next(c.n), key.next(c.n)
        x = np.ascontiguousarray(v_minus_rho if c.role == 1 else c.rho)
        msg, ra0, ra1 = native.dabit_helper(c.role, x, c.w_bits, kappa, lam)
        c.r_arith = (ra0, ra1)
        return msg

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

