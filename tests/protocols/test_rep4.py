"""Rep4 (Fantastic Four, 4PC, active security with abort): every op against
a numpy oracle on random inputs with edge values, over the memory and TCP
transports; the measured ledger equals the declared cost for every op
record; the semi-honest mode gives the same values for fewer bytes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from mpcore.shares import Shared
from protocols.base import FxTerm
from protocols.rep4 import Rep4
from protocols.rep4.protocol import DIGEST_BYTES
from protocols.testing import strategies as S

TRANSPORTS = ["memory", "tcp"]
EDGES = np.array([0, 1, (1 << 64) - 1, 1 << 63, 2, (1 << 63) - 1], dtype=np.uint64)


def cost_mismatches(result):
    """Every op record whose measured rounds / bytes per party differ from
    its declared Cost (records without a declaration: mpcore's setup)."""
    bad = []
    for m in result.merged:
        if m.declared is None:
            assert m.name == "setup", f"op {m.name} has no declared cost"
            continue
        want = list(m.declared.bytes_sent())
        if m.rounds != m.declared.rounds or list(m.bytes_sent) != want:
            bad.append(f"{'/'.join(m.path + (m.name,))} #{m.seq}: measured {m.rounds} rounds "
                       f"{m.bytes_sent} B, declared {m.declared.rounds} rounds {want} B")
    return bad


def run4(program, transport="memory", check=True, args=()):
    result = protocols.run(program, "rep4", transport=transport, test_seed=5, args=args,
                           options={"check": check}, timeout=30.0)
    assert not cost_mismatches(result), "\n".join(cost_mismatches(result))
    return result


def _input(p, value, owner):
    return p.input(value if p.party_id == owner else None, owner, value.shape)


def with_edges(a):
    """Put the edge values into the first elements of a."""
    a = a.copy().reshape(-1)
    k = min(a.size, EDGES.size)
    a[:k] = EDGES[:k]
    return a


# ---- strategies -----------------------------------------------------------------
@st.composite
def elementwise_inputs(draw):
    shape = draw(S.shapes(max_dims=2, max_side=6))
    a = draw(S.ring_arrays(shape))
    b = draw(S.ring_arrays(shape))
    if draw(st.booleans()):
        a = with_edges(a).reshape(shape)
    return a, b


@st.composite
def matmul_inputs(draw):
    m, k, n = (draw(st.integers(1, 6)) for _ in range(3))
    return draw(S.ring_arrays((m, k))), draw(S.ring_arrays((k, n)))


@st.composite
def trunc_inputs(draw):
    n = draw(st.integers(1, 40))
    x = draw(S.signed_arrays((n,), 30))
    return x, draw(st.integers(0, 40))


@st.composite
def fx_inputs(draw):
    n = draw(st.integers(1, 12))
    a = draw(S.fixed_point_arrays((n,), bound=4.0))
    b = draw(S.fixed_point_arrays((n,), bound=4.0))
    return FX.encode(a), FX.encode(b)


def trunc_ok(got, x, d):
    """got is floor(x / 2^d) or one less (x signed)."""
    exact = x.view(np.int64) >> d
    diff = got.view(np.int64) - exact
    return bool(np.all((diff == 0) | (diff == -1)))


# ---- ops against the oracle ---------------------------------------------------------
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_elementwise_ops(transport):
    @settings(max_examples=20 if transport == "memory" else 4)
    @given(elementwise_inputs(), st.integers(0, 3), st.integers(0, 3))
    def check(ab, owner_a, owner_b):
        a, b = ab
        c = np.uint64(0x9E3779B97F4A7C15)

        def program(p):
            x, y = _input(p, a, owner_a), _input(p, b, owner_b)
            outs = [x + y, x - y, -x, x + c, x * c, x.sum(axis=0), p.mul(x, y), x * y,
                    p.dot(x, y)] + p.mul_many([(x, y), (x, x)])
            return [p.reveal(z) for z in outs]

        res = run4(program, transport)
        with np.errstate(over="ignore"):
            want = [a + b, a - b, -a, a + c, a * c, a.sum(axis=0, dtype=np.uint64), a * b, a * b,
                    (a * b).sum(axis=-1, dtype=np.uint64), a * b, a * a]
        for v in res.values:
            assert len(v) == len(want)
            for got, w in zip(v, want):
                np.testing.assert_array_equal(got, w)
    check()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_matmul_ops(transport):
    @settings(max_examples=20 if transport == "memory" else 4)
    @given(matmul_inputs(), matmul_inputs())
    def check(ab, cd):
        a, b = ab
        c, d = cd

        def program(p):
            x, y = _input(p, a, 2), _input(p, b, 3)
            u, v = _input(p, c, 0), _input(p, d, 1)
            outs = [p.matmul(x, y), x @ y] + p.matmul_many([(x, y), (u, v)])
            return [p.reveal(z) for z in outs]

        res = run4(program, transport)
        want = [a @ b, a @ b, a @ b, c @ d]
        for v in res.values:
            for got, w in zip(v, want):
                np.testing.assert_array_equal(got, w)
    check()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_trunc(transport):
    @settings(max_examples=20 if transport == "memory" else 4)
    @given(trunc_inputs())
    def check(xd):
        x, d = xd
        d = min(d, 63)

        def program(p):
            return p.reveal(p.trunc(_input(p, x, 1), d))

        res = run4(program, transport)
        for v in res.values:
            assert trunc_ok(v, x, d), (x.view(np.int64), d, v.view(np.int64))
    check()


def test_trunc_error_bound_many_values():
    """|x| < 2^30, many values and shifts: always floor(x/2^d) or one less
    (the failure probability is below 2^-34 per element)."""
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 30) + 1, 1 << 30, size=20000).astype(np.int64)
    x[:6] = [0, 1, -1, (1 << 30) - 1, -(1 << 30) + 1, -2]
    x = x.view(np.uint64)
    shifts = [1, 8, 16, 29, 30]

    def program(p):
        xs = _input(p, x, 0)
        return [p.reveal(p.trunc(xs, d)) for d in shifts]

    res = run4(program)
    for got, d in zip(res.values[2], shifts):
        assert trunc_ok(got, x, d)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fixed_point(transport):
    @settings(max_examples=8 if transport == "memory" else 2)
    @given(fx_inputs())
    def check(ab):
        a, b = ab
        k = a.size
        A, B = a.reshape(1, k), np.ascontiguousarray(b.reshape(k, 1))

        def program(p):
            x, y = _input(p, a, 0), _input(p, b, 3)
            X, Y = _input(p, A, 1), _input(p, B, 2)
            return p.reveal(p.fxmul(x, y)), p.reveal(p.fxmatmul(X, Y))

        res = run4(program, transport)
        prod = a.view(np.int64) * b.view(np.int64)
        mm = np.array([[prod.sum()]], dtype=np.int64)
        for v in res.values:
            assert trunc_ok(v[0], prod.view(np.uint64), FX.frac_bits)
            assert trunc_ok(v[1], mm.view(np.uint64), FX.frac_bits)
    check()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_input_external_and_reveal_to(transport):
    rng = np.random.default_rng(8)
    a = with_edges(rng.integers(0, 1 << 64, size=9, dtype=np.uint64)).reshape(3, 3)
    payloads = Rep4.share_external(a)
    assert len(payloads) == 4

    def program(p):
        e = p.receive_external(payloads[p.party_id])
        xs = [_input(p, a, owner) for owner in range(4)]
        opened = [p.reveal_to(e + x, t) for t, x in enumerate(xs)]
        return p.reveal(e), opened, [s.parts for s in xs]

    res = run4(program, transport)
    for i, (v, opened, parts) in enumerate(res.values):
        np.testing.assert_array_equal(v, a)
        for t, o in enumerate(opened):
            if t == i:
                np.testing.assert_array_equal(o, a + a)
            else:
                assert o is None
    # the slot layout: party i holds (x_{i+1}, x_{i+2}, x_{i+3}); each slot
    # held by three parties identically, and the owner's own slot is 0
    for k in range(4):
        slots = {}
        for i in range(4):
            for pos, j in enumerate(((i + 1) % 4, (i + 2) % 4, (i + 3) % 4)):
                held = res.values[i][2][k][pos]
                if j in slots:
                    np.testing.assert_array_equal(held, slots[j])
                slots[j] = held
        assert not slots[k].any()
        total = sum(slots[j] for j in range(4))
        np.testing.assert_array_equal(total, a)


def test_public_constants_and_scalars():
    a = np.array(5, dtype=np.uint64)

    def program(p):
        x = _input(p, a, 1)
        return (p.reveal(p.public(np.array([1, 2, 3], dtype=np.uint64)) + x),
                p.reveal(3 - x), p.reveal(p.mul(x, x)))

    res = run4(program)
    for v in res.values:
        np.testing.assert_array_equal(v[0], np.array([6, 7, 8], dtype=np.uint64))
        # (a 0-d public constant comes back 1-d from mpcore.ring.to_ring)
        assert v[1].reshape(-1).tolist() == [(3 - 5) % (1 << 64)]
        assert v[2].shape == () and int(v[2]) == 25


def test_broadcasting_mul():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 1 << 64, size=(3, 1), dtype=np.uint64)
    b = rng.integers(0, 1 << 64, size=(1, 4), dtype=np.uint64)

    def program(p):
        return p.reveal(p.mul(_input(p, a, 0), _input(p, b, 1)))

    res = run4(program)
    np.testing.assert_array_equal(res.values[0], a * b)


# ---- costs ------------------------------------------------------------------------
def test_declared_costs_table():
    """The cost table of the report: elements per party per product, rounds,
    digests only at checks and reveals."""
    n = 10
    a = np.arange(n, dtype=np.uint64)
    M = np.arange(6, dtype=np.uint64).reshape(2, 3)

    def program(p):
        x = _input(p, a, 0)
        X = _input(p, M, 1)
        y = p.mul(x, x)
        z = p.matmul(X, X.T)
        t = p.trunc(x, 3)
        return p.reveal(y), p.reveal(z), p.reveal(t)

    res = run4(program)
    ops = {m.name: m for m in res.merged if m.depth == 0}
    assert ops["key_check"].bytes_sent == [3 * DIGEST_BYTES] * 4
    assert ops["mul"].bytes_sent == [8 * 2 * n, 8 * 2 * n, 8 * n, 8 * n]
    assert ops["mul"].rounds == 1
    assert ops["matmul"].bytes_sent == [8 * 2 * 4, 8 * 2 * 4, 8 * 4, 8 * 4]
    assert ops["trunc"].bytes_sent == [8 * 2 * n, 8 * n, 8 * n, 0] and ops["trunc"].rounds == 2
    # P0: c2 and the JMP to P3; P1: c3; P2, P3: their data and the empty pings
    assert ops["trunc"].msgs_sent == [2, 1, 2, 2]
    reveals = [m for m in res.merged if m.name == "reveal"]
    # first reveal flushes the pending check (+1 round, 3 digests per party)
    assert reveals[0].rounds == 2 and reveals[0].bytes_sent == [8 * n + 5 * DIGEST_BYTES] * 4
    checks = [m for m in res.merged if m.name == "check"]
    assert len(checks) == 1 and checks[0].depth == 1   # y, z, t checked together


NESTED_OPS = {
    "mul": lambda p, x, y, X, Y: p.mul(x, y),
    "matmul": lambda p, x, y, X, Y: p.matmul(X, Y),
    "trunc": lambda p, x, y, X, Y: p.trunc(x, 16),
    "trunc, trunc": lambda p, x, y, X, Y: (p.trunc(x, 16), p.trunc(y, 12)),
    "fxmul": lambda p, x, y, X, Y: p.fxmul(x, y),
    "fxmatmul": lambda p, x, y, X, Y: p.fxmatmul(X, Y),
    "fxprod, two shifts": lambda p, x, y, X, Y: p.fxprod(
        [FxTerm("mul", x, y), FxTerm("mul", x, y, shift=FX.frac_bits + 5)]),
    "ltz": lambda p, x, y, X, Y: p.ltz(x),
    "eqz": lambda p, x, y, X, Y: p.eqz(x),
    "a2b": lambda p, x, y, X, Y: p.a2b(x),
    "reveal": lambda p, x, y, X, Y: p.reveal(x),
}


@pytest.mark.parametrize("name", sorted(NESTED_OPS))
@pytest.mark.parametrize("ahead", [None, 0, 1, 2, 3])
def test_nested_ops_cost_their_declared_rounds_whoever_is_ahead(name, ahead):
    """Inside an enclosing op the parties' Lamport clocks need not agree
    when a nested op starts (reveal_to(x, q) leaves party q one round
    ahead: only q receives); the nested op must still take its declared
    rounds, so that the enclosing op's declared cost (their sum) is what the
    ledger measures. Without its empty pings trunc took 1 round after
    another trunc, or with P1, P2 or P3 ahead (P3 sent nothing, and P2, the
    only sender of round 2, had heard only from P0): rep4's softmax in
    training declared 1 round more than the ledger measured."""
    a = np.arange(-6, 6, dtype=np.int64).view(np.uint64) << np.uint64(16)
    M = np.arange(12, dtype=np.uint64).reshape(3, 4) << np.uint64(14)

    def program(p):
        x, y = _input(p, a, 0), _input(p, a[::-1].copy(), 1)
        X, Y = _input(p, M, 2), _input(p, np.ascontiguousarray(M.T), 3)
        with p.ledger.op("enclosing", p.free()):
            if ahead is not None:
                p.reveal_to(x, ahead)
            NESTED_OPS[name](p, x, y, X, Y)

    result = protocols.run(program, "rep4", test_seed=5, timeout=30.0)
    nested = [m for m in result.merged if "enclosing" in m.path and m.declared is not None]
    assert nested
    bad = [f"{'/'.join(m.path + (m.name,))}: measured {m.rounds} rounds, declared "
           f"{m.declared.rounds}" for m in nested if m.rounds != m.declared.rounds]
    assert not bad, bad


def test_semi_honest_mode_same_values_fewer_bytes():
    rng = np.random.default_rng(4)
    a = rng.integers(0, 1 << 64, size=(4, 5), dtype=np.uint64)
    b = rng.integers(0, 1 << 64, size=(5, 3), dtype=np.uint64)
    s = rng.integers(-(1 << 28), 1 << 28, size=12).astype(np.int64).view(np.uint64)

    def program(p):
        x, y, z = _input(p, a, 0), _input(p, b, 1), _input(p, s, 2)
        return (p.reveal(p.matmul(x, y)), p.reveal(p.mul(x, x)), p.reveal(p.trunc(z, 7)),
                p.reveal_to(z, 3))

    active = run4(program, check=True)
    passive = run4(program, check=False)
    for va, vp in zip(active.values, passive.values):
        for x, y in zip(va, vp):
            if x is None:
                assert y is None
            else:
                np.testing.assert_array_equal(x, y)
    sa, sp = active.summary(), passive.summary()
    assert all(p < a for p, a in zip(sp["bytes_sent"], sa["bytes_sent"]))
    assert sp["rounds"] < sa["rounds"]
    assert not any(m.name in ("check", "key_check") for m in passive.merged)


def test_properties_and_errors():
    assert Rep4.name == "rep4" and Rep4.n_parties == 4 and Rep4.slots_per_party == 3
    assert Rep4.actively_secure
    assert protocols.PROTOCOLS["rep4"] is Rep4

    def program(p):
        x = _input(p, np.zeros(3, np.uint64), 0)
        with pytest.raises(ValueError):
            p.trunc(x, 64)
        with pytest.raises(ValueError):
            p.matmul(x, x)
        with pytest.raises(ValueError):
            p.input(None, 5, (2,))
        assert isinstance(x, Shared) and len(x.parts) == 3
        return p.reveal(x)

    res = protocols.run(program, "rep4", test_seed=1)
    assert all(np.array_equal(v, np.zeros(3, np.uint64)) for v in res.values)
