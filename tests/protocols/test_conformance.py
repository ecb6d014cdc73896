"""One conformance suite over every protocol and transport: values against
the numpy oracle, declared cost against the measured ledger."""
import pytest
from hypothesis import given, settings

import protocols
from protocols.testing.conformance import CASES, run_case

PROTOCOLS = [p for p in ("ref", "rep3", "rep4") if p in protocols.PROTOCOLS]
TRANSPORTS = ["memory", "tcp"]


def _cases_for(protocol):
    return [name for name in CASES if not (protocol == "ref" and name == "reveal_to")]


def _combinations():
    # ref runs on a single party: it has no transport to exercise
    return [(p, c, t) for p in PROTOCOLS for c in _cases_for(p) for t in TRANSPORTS
            if not (p == "ref" and t == "tcp")]


@pytest.mark.parametrize("protocol,case,transport", _combinations())
def test_op_conforms(protocol, case, transport):
    op_case = CASES[case]

    @settings(max_examples=12 if transport == "memory" else 4)
    @given(op_case.inputs)
    def check(inputs):
        secrets, public = inputs
        out = run_case(protocol, op_case, secrets, public, transport=transport, test_seed=7)
        assert out.values_ok, f"{protocol}.{case}: got {out.got!r}, expected {out.expected!r}"
        assert not out.cost_mismatches, "\n".join(out.cost_mismatches)

    check()


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if p != "ref"])
def test_threads_and_processes_agree(protocol):
    """The same program (same test seed) gives identical results, shares
    included, over threads+memory, threads+tcp and processes+tcp."""
    import numpy as np
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**63, size=(4, 5), dtype=np.uint64)
    b = rng.integers(0, 2**63, size=(5, 3), dtype=np.uint64)

    def program(p):
        x = p.input(a if p.party_id == 0 else None, 0, a.shape)
        y = p.input(b if p.party_id == 1 else None, 1, b.shape)
        z = p.trunc(p.matmul(x, y), 7)
        return z.parts, p.reveal(z)

    runs = [protocols.run(program, protocol, transport=t, processes=pr, test_seed=3)
            for t, pr in [("memory", False), ("tcp", False), ("tcp", True)]]
    for r in runs[1:]:
        for v0, v1 in zip(runs[0].values, r.values):
            assert all(np.array_equal(p0, p1) for p0, p1 in zip(v0[0], v1[0]))
            assert np.array_equal(v0[1], v1[1])
        assert [m.bytes_sent for m in r.merged] == [m.bytes_sent for m in runs[0].merged]
