"""rep3-specific properties: external owners, truncation failure rate,
privacy of the shares each party holds, batching."""
import numpy as np
import pytest

import protocols
from mpcore.errors import RunFailed
from protocols.rep3 import Rep3
from protocols.testing.conformance import cost_mismatches


def test_external_owner_input():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 2**64, size=(3, 4), dtype=np.uint64)
    payloads = Rep3.share_external(v)
    # each party's payload alone is independent of v: party 0 gets two seeds only
    assert all(kind == "seed" for kind, _ in payloads[0]["slots"])

    def program(p, payload):
        return p.reveal(p.receive_external(payload))

    res = protocols.run(program, "rep3", party_args=[(pl,) for pl in payloads])
    for val in res.values:
        assert np.array_equal(val, v)
    upload = [l.total_upload_bytes for l in res.ledgers]
    assert upload == [32, 16 + v.nbytes, 16 + v.nbytes]


def test_trunc_failure_rate_matches_documented_bound():
    """ABY3 truncation fails (wraps) with probability about 2^(b+1-64) for
    |x| < 2^b; check the observed rate at b = 56 (expected ~2^-7)."""
    n, b, d = 200_000, 56, 16
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**b) + 1, 2**b, size=n, dtype=np.int64)

    def program(p):
        s = p.input(x.view(np.uint64) if p.party_id == 0 else None, 0, x.shape)
        return p.reveal(p.trunc(s, d))

    got = protocols.run(program, "rep3").values[0].view(np.int64)
    want = x >> d
    failures = np.count_nonzero((want - got) > 1) + np.count_nonzero((want - got) < 0)
    # failure probability for a given x is |x| / 2^64; for |x| uniform below
    # 2^b that is 2^(b-1) / 2^64 = 2^(b-65) (b = 56: about 1 in 512)
    expected = n * 2.0 ** (b - 65)
    assert 0.5 * expected < failures < 2.0 * expected, (failures, expected)


def test_views_are_masked():
    """A party's slots are uniformly masked: the slot it holds of the same
    secret over many sharings is not concentrated on the secret."""
    secret = np.full(4096, 42, dtype=np.uint64)

    def program(p):
        s = p.input(secret if p.party_id == 0 else None, 0, secret.shape)
        return s.parts

    parts = protocols.run(program, "rep3").values
    for party in (1, 2):
        for slot in parts[party]:
            assert len(np.unique(slot)) > 4000      # random-looking, not constant


def test_mul_many_is_one_round():
    rng = np.random.default_rng(2)
    xs = [rng.integers(0, 2**64, size=s, dtype=np.uint64) for s in [(3,), (2, 2), (5,)]]

    def program(p):
        sh = [p.input(x if p.party_id == 0 else None, 0, x.shape) for x in xs]
        outs = p.mul_many([(s, s) for s in sh])
        return [p.reveal(o) for o in outs]

    res = protocols.run(program, "rep3")
    for got, x in zip(res.values[0], xs):
        assert np.array_equal(got, x * x)
    mm = [m for m in res.merged if m.name == "mul_many"][0]
    assert mm.rounds == 1 and mm.bytes_sent == [8 * 12] * 3
    assert not cost_mismatches(res.merged)


def test_bad_operands_give_clear_errors():
    def program(p):
        x = p.input(np.zeros(3, np.uint64) if p.party_id == 0 else None, 0, (3,))
        y = p.input(np.zeros(4, np.uint64) if p.party_id == 0 else None, 0, (4,))
        return p.mul(x, y)

    with pytest.raises(RunFailed, match=r"mul: shapes \(3,\) and \(4,\) do not broadcast"):
        protocols.run(program, "rep3")
