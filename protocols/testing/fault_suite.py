"""The standard fault campaign for an actively secure protocol: one program
that exercises input (from every party), mul, matmul, trunc, reveal and
reveal_to, run under mpcore.faults. Used by `safenet check --faults` and by
the project's own tests. Imports mpcore, protocols, numpy.
"""
import numpy as np

from mpcore import faults
from mpcore.shares import concatenate

OPS = ["setup", "key_check", "input", "mul", "matmul", "trunc", "reveal", "reveal_to"]
TIMEOUT_S = 1.5

_rng = np.random.default_rng(0)
A = _rng.integers(0, 1 << 64, size=(2, 3), dtype=np.uint64)
B = _rng.integers(0, 1 << 64, size=(3, 2), dtype=np.uint64)
S = _rng.integers(-(1 << 30), 1 << 30, size=(5,)).astype(np.int64).view(np.uint64)
U = _rng.integers(0, 1 << 64, size=(5,), dtype=np.uint64)


def campaign_program(p):
    """Inputs from up to four parties, then mul, matmul, trunc, reveal, reveal_to."""
    me, n = p.party_id, p.n_parties
    x = p.input(A if me == 0 else None, 0, A.shape)
    y = p.input(B if me == 1 % n else None, 1 % n, B.shape)
    s = p.input(S if me == 2 % n else None, 2 % n, S.shape)
    u = p.input(U if me == 3 % n else None, 3 % n, U.shape)
    z = p.mul(s, u)
    w = p.matmul(x, y)
    t = p.trunc(s, 5)
    opened = p.reveal(concatenate([z.flatten(), w.flatten(), t.flatten()]))
    return opened, p.reveal_to(u, 2 % n)


def make_runner(protocol, program=campaign_program, transport="memory", options=None,
                test_seed=11):
    import protocols

    def run(**kw):
        return protocols.run(program, protocol, test_seed=test_seed, transport=transport,
                             options=options, **kw)
    return run


def run_campaign(protocol, quick=True, ops=OPS, transport="memory", options=None,
                 program=campaign_program):
    import protocols
    n = protocols.protocol_class(protocol).n_parties
    return faults.campaign(make_runner(protocol, program, transport, options), ops, n,
                           indices="ends" if quick else "all", timeout=TIMEOUT_S)


def campaign_summary(protocol, quick=True):
    """{op: {"trials", "aborted", "undetected", "hangs"}} for `safenet check`
    (selective aborts count as aborted; wrong values and crashes as
    undetected: both mean an honest party did not abort as required)."""
    camp = run_campaign(protocol, quick)
    out = {}
    for op_name, c in camp.counts("op").items():
        out[op_name] = {"trials": sum(c.values()),
                        "aborted": c.get("aborted", 0) + c.get("selective", 0),
                        "undetected": c.get("undetected", 0) + c.get("wrong", 0) + c.get("crash", 0),
                        "hangs": c.get("hang", 0)}
    return out
