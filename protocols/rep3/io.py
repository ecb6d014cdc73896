"""Rep3 input and output.

input(value, owner): slot `owner` and slot `owner+1` come from the keys the
owner shares with its two neighbours; the owner sends the third slot
v - x_owner - x_{owner+1} to the two parties holding it: 2n elements from
the owner, 1 round.

External data owners (clients that are not parties) do the same with fresh
seeds: `Rep3.share_external(value)` runs at the owner and returns one
payload per party (seeds for the two random slots, the masked third slot to
its two holders); `receive_external(payload)` rebuilds the party's slots
(the payload's form is checked by protocols.external).

reveal: party i sends x_{i+1} to party i-1 (the slot that party lacks): n
elements per party, 1 round. reveal_to(p): only party p+1 sends p's missing
slot x_{p+2}.
"""
import math

from mpcore.prg import Prg, fresh_key
from mpcore.ring import as_ring_array
from protocols.base import op
from protocols.external import parse_external


def _size(shape):
    return math.prod(tuple(shape))


def _input_cost(self, value, owner, shape=None):
    n = _size(value.shape) if value is not None else _size(shape)
    return self.only(owner, 2 * n)


class Rep3IO:
    @op("input", _input_cost)
    def input(self, value, owner, shape=None):
        """Secret-share `value` (uint64 array, given by party `owner` only;
        the others pass None and the shape)."""
        i = self.party_id
        if owner not in (0, 1, 2):
            raise ValueError(f"input: owner must be a party id in 0..2, got {owner}")
        if i == owner:
            value = as_ring_array(value, "input value")
            shape = value.shape
        elif shape is None:
            raise ValueError(f"input: party {i} is not the owner ({owner}) and must pass the shape")
        shape = tuple(shape)
        third = (owner + 2) % 3
        if i == owner:
            x_own = self.k_prev.next_like(shape)          # slot owner
            x_next = self.k_next.next_like(shape)         # slot owner+1
            masked = value - x_own - x_next               # slot owner+2
            self.net.send(self.next_party, masked)
            self.net.send(self.prev_party, masked)
            return self.wrap((x_own, x_next))
        masked = self.net.recv(owner, _size(shape)).reshape(shape)
        if i == (owner + 1) % 3:                          # holds slots owner+1, owner+2
            return self.wrap((self.k_prev.next_like(shape), masked))
        assert i == third                                 # holds slots owner+2, owner
        return self.wrap((masked, self.k_next.next_like(shape)))

    @staticmethod
    def share_external(value):
        """Runs at an external data owner: split a uint64 array into one
        payload per party. Seeds come from the OS CSPRNG."""
        value = as_ring_array(value, "share_external value")
        s0, s1 = fresh_key(), fresh_key()
        shape = value.shape
        x0 = Prg(s0, name="owner-slot0").next_like(shape)
        x1 = Prg(s1, name="owner-slot1").next_like(shape)
        x2 = value - x0 - x1
        seed0, seed1 = ("seed", s0), ("seed", s1)
        return [
            {"shape": shape, "slots": (seed0, seed1)},            # party 0: slots 0, 1
            {"shape": shape, "slots": (seed1, ("data", x2))},     # party 1: slots 1, 2
            {"shape": shape, "slots": (("data", x2), seed0)},     # party 2: slots 2, 0
        ]

    @op("receive_external")
    def receive_external(self, payload):
        """Rebuild this party's slots from its payload of `share_external`."""
        slots, nbytes = parse_external(payload, 2)
        self.ledger.on_upload(nbytes)
        return self.wrap(slot.value for slot in slots)

    @op("reveal", lambda self, x: self.each(x.size))
    def reveal(self, x):
        """Open x to every party. Returns the uint64 array."""
        self._mine(x, "reveal")
        self.net.send(self.prev_party, x.parts[1])
        missing = self.net.recv(self.next_party, x.size).reshape(x.shape)
        return x.parts[0] + x.parts[1] + missing

    @op("reveal_to", lambda self, x, party: self.only((party + 1) % 3, x.size))
    def reveal_to(self, x, party):
        """Open x to `party` only; the others get None."""
        self._mine(x, "reveal_to")
        i = self.party_id
        if i == (party + 1) % 3:
            self.net.send(party, x.parts[1])
        if i == party:
            missing = self.net.recv(self.next_party, x.size).reshape(x.shape)
            return x.parts[0] + x.parts[1] + missing
        return None
