"""Rep4: slot layout, keys, the batched hash checks, and the protocol class.

Fantastic Four (Dalskov, Escudero, Keller, USENIX Security 2021): 4 parties,
one active corruption, security with abort. Imports mpcore,
protocols.base and protocols.nonlinear (the mixin of non-linear functions).

Slot layout: x = x0 + x1 + x2 + x3 (mod 2^64). Party i holds the three
slots j != i, stored in `parts` in the order (x_{i+1}, x_{i+2}, x_{i+3})
(indices mod 4). Slot j is held by every party but j. Public constants go
into slot 0 (parts[3 - i] at party i != 0; party 0 adds nothing).

Keys: one PRG per 3-party subset; `self.keys[j]` is the key of the subset
{0,1,2,3} - {j}, known to exactly the holders of slot j, so any slot can be
drawn at random without talking. Key agreement (mpcore.session: the lowest
member draws the key and sends it) is not actively secure on its own: a
corrupt leader could hand two members different keys. So, right after it,
op "key_check" has every party send every peer a SHA-256 digest of the keys
the two of them share (two subsets per pair); a mismatch aborts
(CheatingDetected naming the peer). 1 round, 3 digests per party.

Checked messages (`Round`): every message the protocol sends is either
  * a JMP (joint message passing, `Round.jmp`): sender s and backup b both
    know v; every party but the receiver r draws a mask m from keys[r] into
    slot r; s and b put v - m in the outsider's slot; s sends v - m to r,
    b folds v - m into its running SHA-256 for link b->r, and r folds what it
    received from s into its expected hash for link b->r;
  * a checked send (`Round.send` with a backup): the same without the mask;
  * a send to two receivers that then cross-check (`Round.agree`, input);
  * a digest compared at once (reveal, key_check, check);
  * an empty message on an otherwise idle link of an all-to-all round
    (`Round(full=True)`, used by the comparison ops), or on one chosen link
    (`Round.ping`, used by trunc): it carries nothing; anything but 0
    bytes there is a ProtocolDesync.
All messages of one round go out as ONE message per (sender, receiver)
link. Hashes are only folded locally; `_check()` (op "check") sends one
32-byte digest on every one of the 12 links and compares: 1 round, 96 bytes
per party, run whenever something was folded since the last check (the
`pending` flag is set identically on every party, so declared costs are
deterministic) and always before a value is revealed or returned: reveal,
reveal_to and finish() flush it first. A mismatch raises CheatingDetected
naming the link; the engine then aborts every party.

Semi-honest mode (`Rep4(session, check=False)`, benchmarking only): no
hashes, no key check, no digests; the same values and the same elements.
"""
import hashlib
import hmac
from itertools import combinations

import numpy as np

from mpcore.errors import CheatingDetected
from mpcore.ledger import Cost
from protocols.base import Protocol, op
from protocols.nonlinear import Nonlinear

from .arithmetic import Rep4Arithmetic
from .boolean import Rep4Boolean
from .compare import Rep4Compare
from .io import Rep4IO

DIGEST_BYTES = 32          # SHA-256
N = 4
_EMPTY = np.zeros(0, np.uint64)


def digest_cost(self, per_party_digests, rounds=1):
    """Cost of a round that only sends digests."""
    return Cost(rounds, (0,) * N, (per_party_digests * DIGEST_BYTES,) * N)


def _flat_size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _accumulate(slots, j, arr, xor=False):
    """slots[j] += arr (or ^= arr); a missing slot starts as arr itself (which
    must be a fresh, writable array owned by the caller)."""
    if j in slots:
        if xor:
            slots[j] ^= arr
        else:
            slots[j] += arr
    else:
        slots[j] = arr


class Round:
    """One communication round of checked messages, built identically on all
    parties (every party registers every entry, in the same order; each one
    acts on the entries it takes part in), then `run()`: one message per
    link, received messages split back into entries, hashes folded in
    registration order (so both ends of a link fold the same sequence).

    Every entry carries `self.n` words unless it names its own size `n`
    (sizes must be the same on all parties). `xor=True` makes the round's
    JMPs boolean (mask and sharing by XOR instead of +); a single JMP may
    override it. `full=True` makes the round all-to-all: a link that carries
    no entry gets an empty message (0 bytes), so every party hears from
    every other party in every round; then the round counts of the ledger
    (Lamport depth) do not depend on how far apart the parties' clocks were
    when the op started, and after two such rounds they are equal again."""

    def __init__(self, proto, shape, xor=False, full=False):
        self.p = proto
        self.shape = tuple(shape)
        self.n = _flat_size(shape)
        self.xor = bool(xor)
        self.full = bool(full)
        self.entries = []    # (sender, backup, receiver, value known here or None)
        self.sizes = []      # words per entry
        self.agreements = []  # (entry index a, entry index b): receivers cross-check
        self.targets = {}    # entry index -> (slots dict, slot, xor) the receiver adds into
        self.results = {}    # entry index -> received array (at the receiver)

    def send(self, s, r, value=None, backup=None, n=None):
        """s sends `value` (flat, n or self.n words) to r; if `backup` is
        given, it knows the same value and vouches for it through the link
        hash. Returns the entry index."""
        self.entries.append((s, backup, r, value))
        self.sizes.append(self.n if n is None else int(n))
        return len(self.entries) - 1

    def jmp(self, s, b, r, v, out, n=None, xor=None):
        """JMP(v; s, b -> r): add a sharing of v into `out` ({slot: flat array}
        of this party's slots, missing = 0; see `Rep4.empty_slots`). `v` is
        the value if this party is s or b."""
        p = self.p
        me = p.party_id
        xor = self.xor if xor is None else bool(xor)
        size = self.n if n is None else int(n)
        o = ({0, 1, 2, 3} - {s, b, r}).pop()
        if me != r:
            m = p.keys[r].next(size)             # mask; keys[r] is known to all but r
            w = None
            if me in (s, b):
                w = (v ^ m) if xor else (v - m)
            _accumulate(out, r, m, xor)
        else:
            w = None
        if w is not None:                       # w itself is sent / hashed later: copy
            _accumulate(out, o, w if o in out else w.copy(), xor)
        idx = self.send(s, r, w, backup=b, n=size)
        if me == r:
            self.targets[idx] = (out, o, xor)   # filled in by run()
        return idx

    def ping(self, s, r):
        """s sends r an empty message (0 words) in this round, on a link
        that is otherwise idle (`full` rounds do this on every idle link).
        It carries no information, but r waits for it, so whatever
        r sends in a later round depends on what s did before this round:
        the ledger's round count of the op (Lamport depth) then does not
        depend on how far ahead s was when the op started (see trunc)."""
        return self.send(s, r, _EMPTY if self.p.party_id == s else None, n=0)

    def agree(self, a, b):
        """Entries a and b deliver the same value to two receivers, who then
        cross-check it through their link hashes (both directions)."""
        self.agreements.append((a, b))

    def run(self):
        p = self.p
        me = p.party_id
        outgoing = {}
        incoming = {}
        for (s, _, r, value), size in zip(self.entries, self.sizes):
            if me == s:
                outgoing.setdefault(r, []).append(value)
            elif me == r:
                incoming[s] = incoming.get(s, 0) + size
        if self.full:
            for q in range(N):
                if q != me:
                    outgoing.setdefault(q, [_EMPTY])
                    incoming.setdefault(q, 0)
        for r, vals in outgoing.items():
            p.net.send(r, vals[0] if len(vals) == 1 else np.concatenate(vals))
        received = {s: p.net.recv(s, count) for s, count in incoming.items()}
        offsets = dict.fromkeys(received, 0)
        for k, ((s, b, r, value), size) in enumerate(zip(self.entries, self.sizes)):
            if me == r:
                got = received[s][offsets[s]:offsets[s] + size]
                offsets[s] += size
                self.results[k] = got
                if k in self.targets:
                    slots, o, xor = self.targets[k]
                    _accumulate(slots, o, got.copy() if o not in slots else got, xor)
                if b is not None:
                    p._fold_in(b, got)
            elif me == b and b is not None:
                p._fold_out(r, value)
        for a, b in self.agreements:
            ra, rb = self.entries[a][2], self.entries[b][2]
            if me in (ra, rb):
                mine, other = (a, rb) if me == ra else (b, ra)
                p._fold_out(other, self.results[mine])
                p._fold_in(other, self.results[mine])
        if p.check and (any(e[1] is not None for e in self.entries) or self.agreements):
            p.pending = True
        return self.results


class Rep4(Rep4IO, Rep4Arithmetic, Rep4Boolean, Rep4Compare, Nonlinear, Protocol):
    name = "rep4"
    n_parties = 4
    slots_per_party = 3
    actively_secure = True

    def __init__(self, session, check=True):
        super().__init__(session)
        self.check = bool(check)
        i = self.party_id
        self.slots = tuple((i + k) % N for k in (1, 2, 3))      # slot held at parts[k]
        self.pos = {s: k for k, s in enumerate(self.slots)}
        subsets = [tuple(sorted(c)) for c in combinations(range(N), 3)]
        agreed = session.agree_keys(subsets)
        self.keys = {}
        for j in range(N):
            if j != i:
                self.keys[j] = agreed[frozenset(set(range(N)) - {j})]
        self.pending = False
        self._checks_done = 0
        self._reset_hashes()
        if self.check:
            self._key_check()

    # ---- layout ------------------------------------------------------------
    def public_slot_positions(self):
        return () if self.party_id == 0 else (self.pos[0],)

    def slot(self, x, j):
        """This party's copy of slot j of x (it must hold it)."""
        return x.parts[self.pos[j]]

    def from_slots(self, slots, shape):
        """{slot: flat array} of (some of) this party's slots -> Shared;
        a missing slot is 0."""
        n = _flat_size(shape)
        return self.wrap((np.asarray(slots[s]) if s in slots else np.zeros(n, np.uint64))
                         .reshape(shape) for s in self.slots)

    def empty_slots(self, n):
        """Accumulator for `Round.jmp`: {slot: flat array}, empty = all zero."""
        return {}

    # ---- hashes --------------------------------------------------------------
    def _new_hash(self, sender, receiver):
        h = hashlib.sha256()
        h.update(f"rep4/link/{sender}->{receiver}/check{self._checks_done}".encode())
        return h

    def _reset_hashes(self):
        me = self.party_id
        peers = [q for q in range(N) if q != me]
        self._out = {q: self._new_hash(me, q) for q in peers}     # link me -> q
        self._in = {q: self._new_hash(q, me) for q in peers}      # link q -> me (expected)

    def _fold_out(self, receiver, arr):
        if self.check:
            self._out[receiver].update(memoryview(np.ascontiguousarray(arr)).cast("B"))

    def _fold_in(self, sender, arr):
        if self.check:
            self._in[sender].update(memoryview(np.ascontiguousarray(arr)).cast("B"))

    def _fold_bytes(self, peer, data, out=True, inn=True):
        if self.check:
            if out:
                self._out[peer].update(data)
            if inn:
                self._in[peer].update(data)

    @op("check", lambda self: digest_cost(self, 3))
    def _check(self):
        """Exchange one digest per link and compare (1 round, 3 digests per
        party). Raises CheatingDetected naming every link that failed."""
        me = self.party_id
        peers = [q for q in range(N) if q != me]
        for q in peers:
            self.net.send(q, self._out[q].digest())
        bad = []
        for q in peers:
            got = self.net.recv_bytes(q, DIGEST_BYTES)
            if not hmac.compare_digest(bytes(got), self._in[q].digest()):
                bad.append(q)
        self._checks_done += 1
        self._reset_hashes()
        self.pending = False
        if bad:
            links = ", ".join(f"{q}->{me}" for q in bad)
            raise CheatingDetected(
                f"party {me}: check #{self._checks_done} failed on link {links}: the digest "
                f"from party {bad[0]} does not match what party {me} received (party "
                f"{bad[0]} or the party whose messages it vouches for deviated)", bad[0])

    def flush(self):
        """Complete pending checks now (no-op if nothing is pending)."""
        if self.pending:
            self._check()

    @op("key_check", lambda self: digest_cost(self, 3))
    def _key_check(self):
        me = self.party_id
        peers = [q for q in range(N) if q != me]

        def digest(q):
            h = hashlib.sha256(b"rep4/keys")
            for j in sorted(self.keys):
                if j != q:           # subset {0..3}-{j} contains me and q
                    h.update(bytes([j]) + self.keys[j].key)
            return h.digest()

        for q in peers:
            self.net.send(q, digest(q))
        bad = [q for q in peers
               if not hmac.compare_digest(bytes(self.net.recv_bytes(q, DIGEST_BYTES)), digest(q))]
        if bad:
            raise CheatingDetected(
                f"party {me}: key agreement check failed with party {bad[0]}: the keys the two "
                f"parties share differ (the key leader or party {bad[0]} deviated)", bad[0])

    def finish(self):
        """Complete pending checks (called after the user program)."""
        self.flush()
