"""The standard fault campaign for an actively secure protocol: one program
that exercises input (from every party), mul, matmul, trunc, reveal and
reveal_to, run under mpcore.faults. Used by `safenet check --faults` and by
the project's own tests. `compare_program` / COMPARE_OPS (optional): the
same for comparisons (ltz, eqz, relu, argmax, then one reveal), for a
protocol with the non-linear layer: run_campaign(protocol, ops=COMPARE_OPS,
program=compare_program). Imports mpcore, protocols, numpy.
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


# ---- comparisons (protocols with ltz / eqz: the Nonlinear layer) -------------------
COMPARE_OPS = ["ltz", "eqz", "relu", "argmax", "reveal"]
CX = np.array([0, 1, -1, (1 << 63) - 1, -(1 << 63), 5 << 40, -(7 << 20), 3],
              dtype=np.int64).view(np.uint64)
CY = np.array([0, 2, -1, (1 << 62), -(1 << 62), 5 << 40, 9, -3], dtype=np.int64).view(np.uint64)
CM = _rng.integers(-4, 4, size=(3, 5)).astype(np.int64).view(np.uint64)


def compare_program(p):
    """Inputs from three parties, then ltz, eqz (of x - y), relu and argmax,
    and one reveal of everything (needs a protocol with ltz / eqz)."""
    me, n = p.party_id, p.n_parties
    x = p.input(CX if me == 0 else None, 0, CX.shape)
    y = p.input(CY if me == 1 % n else None, 1 % n, CY.shape)
    m = p.input(CM if me == 2 % n else None, 2 % n, CM.shape)
    outs = [p.ltz(x), p.eqz(p.sub(x, y)), p.relu(y), p.argmax(m)]
    return p.reveal(concatenate([o.flatten() for o in outs]))


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
