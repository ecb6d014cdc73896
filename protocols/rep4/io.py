"""Rep4 input and output. Imports mpcore, protocols.base, protocols.external.

input(value, owner=i): slot i is 0; slots i+1 and i+2 are drawn from
keys[i+1] and keys[i+2] (the owner is in both subsets); the owner sends
slot i+3 = v - x_{i+1} - x_{i+2} to its two other holders, parties i+1 and
i+2, who cross-check what they received through their link hashes (both
directions; compared at the next check). 2n elements from the owner only,
1 round. A corrupt owner may input any value but cannot make the holders'
copies differ undetected.

External data owners (clients, not parties): `Rep4.share_external(value)`
draws slots 0, 1, 2 from three fresh seeds and sets slot 3 = v - x0 - x1 -
x2; party i's payload carries its three slots in parts order (seeds for
slots 0..2, data for slot 3). `receive_external` rebuilds the slots (the
payload's form is checked by protocols.external) and folds every slot
(tagged seed or data) into the link hashes with the other two holders of
that slot, so an owner that hands holders different slots is caught at the
next check. No party sends anything (upload bytes are counted by
`ledger.on_upload`).

reveal(x): pending checks first (op "check", +1 round). Then party j sends
slot j-1 to party j-1 (the slot it lacks) and a digest of slot j-2 to party
j-2 and of slot j+1 to party j+1: so party i gets x_i from party i+1 and
digests of x_i from i+2 and i+3 (all three holders of x_i) and returns the
value only if they agree. n elements + 2 digests per party, 1 round (2 with
a pending check). Because every party hears from every other party in the
reveal round, a party that aborted in the check round stops all others.
reveal_to(x, p): pending checks, then p+1 sends x_p and p+2, p+3 send its
digest; only p gets (and returns) the value.
"""
import hashlib
import hmac

import numpy as np

from mpcore.errors import CheatingDetected
from mpcore.ledger import Cost
from mpcore.prg import Prg, fresh_key
from mpcore.ring import DTYPE, as_ring_array
from protocols.base import op
from protocols.external import parse_external

N = 4
DIGEST_BYTES = 32


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _check_cost(self):
    """Cost of the check that reveal / reveal_to run first, if one is pending."""
    if self.check and self.pending:
        return Cost(1, (0,) * N, (3 * DIGEST_BYTES,) * N)
    return Cost(0, (0,) * N)


def _input_cost(self, value, owner, shape=None):
    if owner not in range(N):
        raise ValueError(f"input: owner must be a party id in 0..3, got {owner}")
    n = _size(value.shape) if value is not None else _size(shape)
    return self.only(owner, 2 * n)


def _reveal_cost(self, x):
    dig = 2 * DIGEST_BYTES if self.check else 0
    return _check_cost(self) + Cost(1, (x.size,) * N, (dig,) * N if dig else None)


def _reveal_to_cost(self, x, party):
    if party not in range(N):
        raise ValueError(f"reveal_to: party must be in 0..3, got {party}")
    sent = [0] * N
    sent[(party + 1) % N] = x.size
    dig = [0] * N
    if self.check:
        dig[(party + 2) % N] = dig[(party + 3) % N] = DIGEST_BYTES
    return _check_cost(self) + Cost(1, tuple(sent), tuple(dig) if any(dig) else None)


class Rep4IO:
    @op("input", _input_cost)
    def input(self, value, owner, shape=None):
        """Secret-share `value` (uint64 array, given by party `owner` only;
        the others pass None and the shape)."""
        me = self.party_id
        if owner not in range(N):
            raise ValueError(f"input: owner must be a party id in 0..3, got {owner}")
        if me == owner:
            shape = np.shape(value)        # as_ring_array makes 0-d arrays 1-d
            value = as_ring_array(value, "input value").reshape(shape)
        elif shape is None:
            raise ValueError(f"input: party {me} is not the owner ({owner}) and must pass the shape")
        shape = tuple(shape)
        return self.from_slots(self._owner_slots(value, owner, _size(shape), xor=False), shape)

    def _owner_slots(self, value, owner, n, xor):
        """This party's slots of `owner`'s input (arithmetic, or XOR with
        xor=True): the owner's slot is 0, slots owner+1 and owner+2 come from
        the keys the owner shares with their holders, and the owner sends the
        remaining slot w to its two other holders, who check they got the
        same (1 round)."""
        from .protocol import Round
        me = self.party_id
        s1, s2, s3 = ((owner + k) % N for k in (1, 2, 3))
        slots = {owner: np.zeros(n, DTYPE)}
        if me != s1:
            slots[s1] = self.keys[s1].next(n)
        if me != s2:
            slots[s2] = self.keys[s2].next(n)
        rnd = Round(self, (n,), xor=xor)
        w = None
        if me == owner:
            flat = value.reshape(-1)
            w = flat ^ slots[s1] ^ slots[s2] if xor else flat - slots[s1] - slots[s2]
        a = rnd.send(owner, s1, w)
        b = rnd.send(owner, s2, w)
        rnd.agree(a, b)
        got = rnd.run()
        if me == owner:
            slots[s3] = w
        elif me == s1:
            slots[s3] = got[a]
        elif me == s2:
            slots[s3] = got[b]
        slots.pop(me, None)
        return slots

    @staticmethod
    def share_external(value):
        """Runs at an external data owner: split a uint64 array into one
        payload per party. Seeds come from the OS CSPRNG."""
        value = as_ring_array(value, "share_external value")
        shape = value.shape
        seeds = [fresh_key() for _ in range(3)]
        x = [Prg(seeds[j], name=f"owner-slot{j}").next_like(shape) for j in range(3)]
        x3 = value - x[0] - x[1] - x[2]

        def slot(j):
            return ("seed", seeds[j]) if j < 3 else ("data", x3)
        return [{"shape": shape, "slots": tuple(slot((i + k) % N) for k in (1, 2, 3))}
                for i in range(N)]

    @op("receive_external")
    def receive_external(self, payload):
        """Rebuild this party's slots from its payload of `share_external`;
        the slots are cross-checked with their other holders at the next check."""
        me = self.party_id
        slots, nbytes = parse_external(payload, 3)
        self.ledger.on_upload(nbytes)
        if self.check:
            tags = {j: (b"seed" + slot.content if slot.kind == "seed"
                        else b"data" + memoryview(slot.value).cast("B").tobytes())
                    for j, slot in zip(self.slots, slots)}
            for j in sorted(tags):                     # same order at both ends of a link
                for h in range(N):
                    if h not in (me, j):               # h also holds slot j
                        self._fold_bytes(h, bytes([j]) + tags[j])
            self.pending = True
        return self.wrap(slot.value for slot in slots)

    # ---- output -----------------------------------------------------------------
    def _slot_digest(self, x, j):
        h = hashlib.sha256(f"rep4/reveal/op{self.ledger.current_seq}/slot{j}/".encode())
        h.update(memoryview(np.ascontiguousarray(self.slot(x, j))).cast("B"))
        return h.digest()

    def _receive_slot(self, x, op_name, xor=False):
        """Receive my missing slot from party i+1 and its digests from i+2,
        i+3; return the opened value if all three holders agree (the XOR of
        the slots for a boolean sharing, `xor=True`)."""
        me = self.party_id
        got = self.net.recv((me + 1) % N, x.size).reshape(x.shape)
        if self.check:
            h = hashlib.sha256(f"rep4/reveal/op{self.ledger.current_seq}/slot{me}/".encode())
            h.update(memoryview(np.ascontiguousarray(got)).cast("B"))
            expect = h.digest()
            bad = [q for q in ((me + 2) % N, (me + 3) % N)
                   if not hmac.compare_digest(bytes(self.net.recv_bytes(q, DIGEST_BYTES)), expect)]
            if bad:
                raise CheatingDetected(
                    f"party {me}: {op_name}: slot {me} from party {(me + 1) % N} does not match "
                    f"the digest from party {bad[0]}" + (" and party " + str(bad[1]) if len(bad) > 1 else "")
                    + f" (link {(me + 1) % N}->{me} or {bad[0]}->{me}): one of them deviated",
                    bad[0] if len(bad) == 1 else (me + 1) % N)
        if xor:
            return x.parts[0] ^ x.parts[1] ^ x.parts[2] ^ got
        return x.parts[0] + x.parts[1] + x.parts[2] + got

    @op("reveal", _reveal_cost)
    def reveal(self, x):
        """Open x to every party (after all pending checks). Returns the uint64 array."""
        self._mine(x, "reveal")
        self.flush()
        me = self.party_id
        self.net.send((me - 1) % N, self.slot(x, (me - 1) % N))
        if self.check:
            self.net.send((me - 2) % N, self._slot_digest(x, (me - 2) % N))
            self.net.send((me + 1) % N, self._slot_digest(x, (me + 1) % N))
        return self._receive_slot(x, "reveal")

    @op("reveal_to", _reveal_to_cost)
    def reveal_to(self, x, party):
        """Open x to `party` only (after all pending checks); the others get None."""
        self._mine(x, "reveal_to")
        if party not in range(N):
            raise ValueError(f"reveal_to: party must be in 0..3, got {party}")
        self.flush()
        me = self.party_id
        if me == (party + 1) % N:
            self.net.send(party, self.slot(x, party))
        elif self.check and me != party:
            self.net.send(party, self._slot_digest(x, party))
        if me == party:
            return self._receive_slot(x, "reveal_to")
        return None
