"""The tutorial's deliberately broken protocols (docs/testing.md) are each
caught by the check named there."""
import numpy as np

from protocols.base import op
from protocols.rep3 import Rep3
from protocols.rep3.io import _input_cost
from protocols.rep4 import Rep4
from protocols.testing.conformance import CASES, run_case
from protocols.testing.fault_suite import run_campaign
from protocols.testing.privacy import received_words, views_differ


class Rep3WrongCrossTerm(Rep3):
    """Bug: the local product forgets the x_{i+1} * y_i term."""
    name = "rep3-wrong-cross-term"

    def _local_product(self, x, y, op_name):
        shape = np.broadcast_shapes(x.shape, y.shape)
        z = x.parts[0] * y.parts[0] + x.parts[0] * y.parts[1]
        return np.ascontiguousarray(z + self.zero_share(shape))


class Rep3UnmaskedInput(Rep3):
    """Bug: input without the PRG masks: the owner's own two slots are 0, so
    the third slot, sent to the other parties, is the value itself."""
    name = "rep3-unmasked-input"

    @op("input", _input_cost)
    def input(self, value, owner, shape=None):
        i = self.party_id
        shape = tuple(value.shape if i == owner else shape)
        zero = np.zeros(shape, np.uint64)
        if i == owner:
            self.net.send(self.next_party, value)
            self.net.send(self.prev_party, value)
            return self.wrap((zero, zero.copy()))
        v = self.net.recv(owner, int(np.prod(shape))).reshape(shape)
        return self.wrap((zero, v) if i == (owner + 1) % 3 else (v, zero))


class Rep4UnfoldedHashes(Rep4):
    """Bug: digests are exchanged, but no message is ever folded into them,
    so nothing is actually checked."""
    name = "rep4-unfolded-hashes"

    def _fold_out(self, receiver, arr):
        pass

    def _fold_in(self, sender, arr):
        pass


def _mul_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 2**64, size=5, dtype=np.uint64) for _ in range(2)]


def test_conformance_catches_wrong_cross_term():
    out = run_case(Rep3WrongCrossTerm, CASES["mul"], _mul_inputs(), None)
    assert not out.values_ok
    assert run_case(Rep3, CASES["mul"], _mul_inputs(), None).values_ok


def _input_program(secret):
    def program(p):
        x = p.input(secret if p.party_id == 0 else None, 0, secret.shape)
        return p.reveal(x)
    return program


def test_privacy_check_catches_missing_mask():
    a, b = np.full(32, 5, np.uint64), np.full(32, 2**63 + 11, np.uint64)
    for cls, should_differ in [(Rep3UnmaskedInput, True), (Rep3, False)]:
        wa = received_words(cls, _input_program(a), 1, runs=20)
        wb = received_words(cls, _input_program(b), 1, runs=20)
        differ, p = views_differ(wa, wb)
        assert differ == should_differ, (cls.name, p)


def test_fault_campaign_catches_unchecked_messages():
    camp = run_campaign(Rep4UnfoldedHashes, quick=True, ops=["mul"])
    assert camp.counts()["wrong"] > 0
    good = run_campaign(Rep4, quick=True, ops=["mul"])
    assert not good.failures() and good.counts()["wrong"] == 0
