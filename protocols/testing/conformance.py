"""The conformance suite: every op of a protocol against a cleartext oracle
(values) and against its own declared cost (ledger), on random inputs.

    from protocols.testing.conformance import CASES, run_case
    outcome = run_case("rep3", CASES["mul"], secrets, public)
    assert outcome.values_ok and not outcome.cost_mismatches

A case names the op, a hypothesis strategy for its inputs, the secure
computation and a numpy oracle. Values must match exactly, except for
truncations, which may be one below the exact floor (`tolerance="trunc"`).
`cost_mismatches` compares, for every op record in the merged ledger
(nested ops included), the measured bytes per party and rounds with the
declared Cost. Imports mpcore, protocols, numpy, hypothesis.
"""
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from mpcore.fixedpoint import DEFAULT as FX
from mpcore.shares import Shared

from . import strategies as S

TRUNC_BITS = 30          # |x| < 2^30 before truncation: failure < 2^-33 per element


@dataclass
class OpCase:
    name: str
    inputs: object                   # strategy -> (list of secret uint64 arrays, public)
    secure: object                   # (proto, shared list, public) -> Shared
    oracle: object                   # (secret arrays, public) -> uint64 array
    tolerance: str = "exact"         # or "trunc"
    reveal_to: int = None            # the result is revealed to this party only
    ops: tuple = field(default=())   # op names whose declared cost is checked (default: all)


@dataclass
class CaseOutcome:
    values_ok: bool
    got: object
    expected: object
    cost_mismatches: list
    merged: list


# ---- input strategies ----------------------------------------------------------
def _same_shape(k, make, public=None, max_dims=2):
    @st.composite
    def strat(draw):
        shape = draw(S.shapes(max_dims=max_dims))
        secrets = [draw(make(shape)) for _ in range(k)]
        pub = draw(public(shape)) if public else None
        return secrets, pub
    return strat()


@st.composite
def _matmul_inputs(draw, make=S.ring_arrays):
    a, b, c = (draw(st.integers(1, 6)) for _ in range(3))
    return [draw(make((a, b))), draw(make((b, c)))], None


@st.composite
def _fx_pairs(draw):
    """Fixed-point factors over the whole range, products below 2 (so the
    truncated value has < 2^(1+2f) = 2^33... bits: failure < 2^-30)."""
    shape = draw(S.shapes())
    n = int(np.prod(shape))
    a = draw(S.fixed_point_arrays((n,)))
    bound = np.minimum(FX.max_value, 2.0 / np.maximum(np.abs(a), 1.0))
    frac = draw(S.fixed_point_arrays((n,), bound=1.0)) / 1.0
    b = np.clip(frac * bound, -bound + FX.resolution, bound - FX.resolution)
    return [FX.encode(a).reshape(shape), FX.encode(b).reshape(shape)], None


@st.composite
def _fx_matrices(draw):
    a, b, c = (draw(st.integers(1, 5)) for _ in range(3))
    x = draw(S.fixed_point_arrays((a, b), bound=0.5))
    y = draw(S.fixed_point_arrays((b, c), bound=0.5))
    return [FX.encode(x), FX.encode(y)], None


def _signed(shape):
    return S.signed_arrays(shape, TRUNC_BITS)


def _shift():
    return lambda shape: st.integers(0, 20)


def _sar(x, d):
    return (x.view(np.int64) >> np.int64(d)).view(np.uint64)


def _fxmul_oracle(s, p):
    # exact product of two < 2^31 values fits int64 (< 2^62)
    return _sar(s[0] * s[1], FX.frac_bits)


def _fxmatmul_oracle(s, p):
    return _sar(s[0] @ s[1], FX.frac_bits)


CASES = {c.name: c for c in [
    OpCase("add", _same_shape(2, S.ring_arrays), lambda p, x, c: x[0] + x[1],
           lambda s, c: s[0] + s[1]),
    OpCase("sub", _same_shape(2, S.ring_arrays), lambda p, x, c: x[0] - x[1],
           lambda s, c: s[0] - s[1]),
    OpCase("neg", _same_shape(1, S.ring_arrays), lambda p, x, c: -x[0], lambda s, c: -s[0]),
    OpCase("add_public", _same_shape(1, S.ring_arrays, S.ring_arrays),
           lambda p, x, c: p.add_public(x[0], c), lambda s, c: s[0] + c),
    OpCase("mul_public", _same_shape(1, S.ring_arrays, S.ring_arrays),
           lambda p, x, c: p.mul_public(x[0], c), lambda s, c: s[0] * c),
    OpCase("sum", _same_shape(1, S.ring_arrays, lambda shape: st.integers(0, len(shape) - 1)),
           lambda p, x, ax: p.sum(x[0], axis=ax),
           lambda s, ax: np.asarray(s[0].sum(axis=ax, dtype=np.uint64))),
    OpCase("mul", _same_shape(2, S.ring_arrays), lambda p, x, c: p.mul(x[0], x[1]),
           lambda s, c: s[0] * s[1]),
    OpCase("mul_many", _same_shape(4, S.ring_arrays),
           lambda p, x, c: _stack(p.mul_many([(x[0], x[1]), (x[2], x[3])])),
           lambda s, c: np.concatenate([(s[0] * s[1]).ravel(), (s[2] * s[3]).ravel()])),
    OpCase("dot", _same_shape(2, S.ring_arrays), lambda p, x, c: p.dot(x[0], x[1]),
           lambda s, c: np.asarray((s[0] * s[1]).sum(axis=-1, dtype=np.uint64))),
    OpCase("matmul", _matmul_inputs(), lambda p, x, c: p.matmul(x[0], x[1]),
           lambda s, c: s[0] @ s[1]),
    OpCase("matmul_many", _matmul_inputs(),
           lambda p, x, c: p.flat_concat(p.matmul_many([(x[0], x[1]), (x[0], x[1])])),
           lambda s, c: np.concatenate([(s[0] @ s[1]).ravel()] * 2)),
    OpCase("trunc", _same_shape(1, _signed, _shift()), lambda p, x, d: p.trunc(x[0], d),
           lambda s, d: _sar(s[0], d), tolerance="trunc"),
    OpCase("fxmul", _fx_pairs(), lambda p, x, c: p.fxmul(x[0], x[1]), _fxmul_oracle,
           tolerance="trunc"),
    OpCase("fxmatmul", _fx_matrices(), lambda p, x, c: p.fxmatmul(x[0], x[1]),
           _fxmatmul_oracle, tolerance="trunc"),
    OpCase("reveal_to", _same_shape(1, S.ring_arrays, lambda shape: st.integers(0, 3)),
           lambda p, x, target: x[0], lambda s, c: s[0], reveal_to=-1),
]}


def _stack(values):
    return Shared(values[0].proto, tuple(np.concatenate([v.parts[j].ravel() for v in values])
                                         for j in range(len(values[0].parts))))


# ---- running ---------------------------------------------------------------------
def cost_mismatches(merged, skip=("setup",)):
    """Every op record whose measured bytes per party or rounds differ from
    its declared cost, as readable strings."""
    bad = []
    for m in merged:
        if m.declared is None or m.name in skip:
            continue
        want = tuple(m.declared.bytes_sent())
        if tuple(m.bytes_sent) != want or m.rounds != m.declared.rounds:
            bad.append(f"{'/'.join(m.path + (m.name,))} (op #{m.seq}): measured "
                       f"{m.rounds} rounds, bytes {list(m.bytes_sent)}; declared "
                       f"{m.declared.rounds} rounds, bytes {list(want)}")
    return bad


def values_match(got, expected, tolerance):
    got = np.asarray(got, dtype=np.uint64)
    expected = np.asarray(expected, dtype=np.uint64)
    if got.shape != expected.shape:
        return False
    if tolerance == "exact":
        return bool(np.array_equal(got, expected))
    diff = (expected - got).view(np.int64)       # exact floor minus result
    return bool(np.all((diff == 0) | (diff == 1)))


def run_case(protocol, case, secrets, public, *, transport="memory", processes=False,
             test_seed=None, options=None, timeout=30.0):
    import protocols

    cls = protocols.protocol_class(protocol)
    n = cls.n_parties
    target = None
    if case.reveal_to is not None:
        target = (public if public is not None else 0) % n

    def program(p):
        shared = [p.input(a if p.party_id == k % n else None, k % n, a.shape)
                  for k, a in enumerate(secrets)]
        out = case.secure(p, shared, public)
        if target is not None:
            return p.reveal_to(out, target)
        return p.reveal(out)

    res = protocols.run(program, protocol, transport=transport, processes=processes,
                        test_seed=test_seed, options=options, timeout=timeout)
    expected = case.oracle(secrets, public)
    holders = [target] if target is not None else range(n)
    ok = all(values_match(res.values[i], expected, case.tolerance) for i in holders)
    if target is not None:
        ok = ok and all(res.values[i] is None for i in range(n) if i != target)
    merged = res.merged
    return CaseOutcome(ok, res.values[holders[0]], expected, cost_mismatches(merged), merged)
