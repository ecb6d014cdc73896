"""Rep3: slot layout, correlated randomness and the protocol class.

Slot layout: x = x0 + x1 + x2 (mod 2^64); party i holds (x_i, x_{i+1})
(indices mod 3), so slot j is held by parties j-1 and j.

Keys: one per pair of parties, agreed at session start. For party i,
`k_next` is shared with party i+1 and `k_prev` with party i-1. Slot j can
be drawn without talking by its two holders from the key of pair
{j-1, j}: for party i that is k_prev for slot i and k_next for slot i+1.
Zero sharing: a_i = F(k_next) - F(k_prev); the three a_i sum to zero.
Semi-honest security, honest majority (one passive corruption).
"""
from protocols.base import Protocol
from protocols.nonlinear import Nonlinear

from .arithmetic import Rep3Arithmetic
from .boolean import Rep3Boolean
from .compare import Rep3Compare
from .conversion import Rep3Conversion
from .io import Rep3IO


class Rep3(Rep3IO, Rep3Arithmetic, Rep3Boolean, Rep3Compare, Rep3Conversion, Nonlinear,
           Protocol):
    name = "rep3"
    n_parties = 3
    slots_per_party = 2
    actively_secure = False
    fused_fxprod = True

    def __init__(self, session):
        super().__init__(session)
        i = self.party_id
        self.next_party = (i + 1) % 3
        self.prev_party = (i - 1) % 3
        keys = session.agree_keys([(0, 1), (1, 2), (0, 2)])
        self.k_next = keys[frozenset((i, self.next_party))]
        self.k_prev = keys[frozenset((i, self.prev_party))]

    def public_slot_positions(self):
        # slot 0 is parts[0] at party 0 and parts[1] at party 2
        return {0: (0,), 1: (), 2: (1,)}[self.party_id]

    def slot_key(self, slot):
        """The PRG of the pair that holds `slot` (this party must hold it)."""
        i = self.party_id
        if slot == i:
            return self.k_prev
        if slot == (i + 1) % 3:
            return self.k_next
        raise ValueError(f"party {i} does not hold slot {slot}")

    def round_offset(self, d):
        """rep3's truncations return floor(z / 2^d) - [frac < rho] (rho
        uniform): mean z / 2^d - 1. Adding 2^d first makes them stochastic
        rounding: unbiased, error below one unit."""
        return (1 << int(d)) if d > 0 else 0

    def zero_share(self, shape):
        """Additive sharing of zero: party i's a_i (sum over parties is 0)."""
        return self.k_next.next_like(shape) - self.k_prev.next_like(shape)
