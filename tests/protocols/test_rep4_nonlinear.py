"""Rep4 comparisons, conversions and non-linear functions: ltz / eqz / a2b /
b2a exact over the whole ring (memory and TCP), the boolean sharing, the
generic non-linear layer (protocols.nonlinear) on rep4 against numpy within
its documented errors, declared cost == measured ledger for every op
record, and privacy of one party's view of ltz."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from mpcore.shares import Shared
from protocols.base import BoolShared
from protocols.nonlinear import EXP_RANGE
from protocols.rep4 import Rep4
from protocols.rep4.compare import _cmp_cost, chunk_sizes, nibbles
from protocols.testing import strategies as S
from protocols.testing.conformance import cost_mismatches
from protocols.testing.privacy import received_words, views_differ

U = np.uint64
EDGES = np.array([0, 1, -1, 2, -2, (1 << 63) - 1, -(1 << 63), -(1 << 63) + 1,
                  1 << 62, -(1 << 62), 1 << 32, -(1 << 32), 15, 16, -16, -17], dtype=np.int64)
FAST = settings(max_examples=10, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run(program, *arrays, transport="memory", seed=5, **kwargs):
    """Secret-share `arrays` (uint64; input by parties 0, 1, 2, 3 in turn)
    and run program(proto, *shared) on rep4; declared == measured costs."""
    def prog(p):
        shared = [p.input(a if p.party_id == k % 4 else None, k % 4, a.shape)
                  for k, a in enumerate(arrays)]
        return program(p, *shared)
    res = protocols.run(prog, "rep4", transport=transport, test_seed=seed, timeout=60.0, **kwargs)
    bad = cost_mismatches(res.merged)
    assert not bad, "\n".join(bad)
    return res


def signed(a):
    return np.asarray(a, dtype=U).view(np.int64)


def op_record(res, name):
    return next(m for m in res.merged if m.name == name)


# ---- ltz / eqz / a2b / b2a: exact over the whole ring ---------------------------------------
@pytest.mark.parametrize("transport", ["memory", "tcp"])
def test_ltz_eqz_a2b_b2a_exact_on_edges(transport):
    rng = np.random.default_rng(1)
    x = np.concatenate([EDGES, rng.integers(-(1 << 63), (1 << 63) - 1, 300, dtype=np.int64,
                                            endpoint=True)]).view(U)
    y = np.concatenate([EDGES[::-1], x[len(EDGES):][::-1]]).view(U)
    y[:5] = x[:5]                                        # some equal pairs

    def program(p, sx, sy):
        b = p.a2b(sx)
        return (p.reveal(p.ltz(sx)), p.reveal(p.eqz(sx)), p.reveal(p.msb(sx)),
                p.reveal_bits(b), p.reveal(p.eq(sx, sy)), p.reveal(p.b2a(b, 63)),
                p.reveal(p.b2a(b, 0)))

    res = run(program, x, y, transport=transport)
    for lt, eqz, msb, bits, eq, b63, b0 in res.values:
        assert np.array_equal(lt, (signed(x) < 0).astype(U))
        assert np.array_equal(msb, lt)
        assert np.array_equal(eqz, (x == 0).astype(U))
        assert np.array_equal(bits, x)
        assert np.array_equal(eq, (x == y).astype(U))
        assert np.array_equal(b63, x >> U(63))
        assert np.array_equal(b0, x & U(1))
    assert op_record(res, "ltz").rounds == op_record(res, "eqz").rounds == 7
    assert op_record(res, "a2b").rounds == 7 and op_record(res, "b2a").rounds == 2


@FAST
@given(st.data())
def test_ltz_eqz_random_shapes(data):
    shape = data.draw(S.shapes(max_dims=3, max_side=6))
    x = data.draw(S.ring_arrays(shape))
    if x.size and data.draw(st.booleans()):
        flat = x.reshape(-1)
        flat[:min(flat.size, EDGES.size)] = EDGES[:flat.size].view(U)
    bit = data.draw(st.integers(0, 63))

    def program(p, sx):
        b = p.a2b(sx)
        return p.reveal(p.ltz(sx)), p.reveal(p.eqz(sx)), p.reveal(p.b2a(b, bit))

    lt, eqz, inj = run(program, x).values[1]
    assert lt.shape == eqz.shape == inj.shape == shape
    assert np.array_equal(lt, (signed(x) < 0).astype(U))
    assert np.array_equal(eqz, (x == 0).astype(U))
    assert np.array_equal(inj, (x >> U(bit)) & U(1))


def test_small_and_odd_batches():
    """Chunk boundaries (the first chunk is a multiple of 64 elements), empty
    and 0-d values."""
    assert chunk_sizes(0) == (0, 0) and chunk_sizes(1) == (1, 0)
    assert chunk_sizes(100) == (64, 36) and chunk_sizes(129) == (128, 1)
    for n in (0, 1, 2, 63, 64, 65, 129):
        x = (np.arange(n, dtype=np.int64) - n // 2).view(U)

        def program(p, sx):
            return p.reveal(p.ltz(sx)), p.reveal(p.eqz(sx))

        lt, eq = run(program, x, seed=n).values[3]
        assert np.array_equal(lt, (signed(x) < 0).astype(U))
        assert np.array_equal(eq, (x == 0).astype(U))
    scalar = np.array(-(1 << 63), dtype=np.int64).view(U)
    lt, = run(lambda p, s: (p.reveal(p.ltz(s)),), scalar).values[0]
    assert lt.reshape(-1).tolist() == [1]


def test_bits_promise_is_exact_and_cheaper():
    """bits=k (|x| < 2^(k-1)): exact, fewer rounds and bytes."""
    rng = np.random.default_rng(7)
    full = _cmp_cost(None, np.zeros(1000), "ltz")
    for k in (1, 2, 4, 5, 8, 12, 16, 17, 32, 33, 48, 63, 64):
        lim = 1 << (k - 1)
        x = rng.integers(-lim + 1, lim, 200, dtype=np.int64) if k > 1 else np.zeros(200, np.int64)
        if k > 1:
            x[:4] = [lim - 1, -lim + 1, 0, -1]
        x[50:60] = 0
        xu = x.view(U)

        def program(p, sx):
            return p.reveal(p.ltz(sx, bits=k)), p.reveal(p.eqz(sx, bits=k))

        res = run(program, xu, seed=k)
        lt, eq = res.values[0]
        assert np.array_equal(lt, (x < 0).astype(U)), k
        assert np.array_equal(eq, (x == 0).astype(U)), k
        nib = nibbles(k)
        assert op_record(res, "ltz").rounds == 3 + int(np.log2(nib))
        small = _cmp_cost(None, np.zeros(1000), "ltz", k)
        assert (small.rounds < full.rounds) == (k <= 32)
        assert all(s <= f for s, f in zip(small.elements_sent, full.elements_sent))
    with pytest.raises(ValueError):
        nibbles(0)
    with pytest.raises(ValueError):
        nibbles(65)


def test_cost_table_for_1e5():
    """The declared costs quoted in the report (n = 10^5), and that they
    match the ledger on a smaller batch (every op record)."""
    n = 100_000
    x = np.zeros(n)
    ltz = _cmp_cost(None, x, "ltz")
    eqz = _cmp_cost(None, x, "eqz")
    assert ltz.rounds == eqz.rounds == 7
    per_party = [8 * e for e in ltz.elements_sent]
    assert max(per_party) <= 38 * n and min(per_party) >= 37 * n      # ~37.6 bytes
    assert max(8 * e for e in eqz.elements_sent) <= 34 * n
    assert sum(ltz.elements_sent) * 8 <= 151 * n                       # all parties together


# ---- boolean sharing ----------------------------------------------------------------------
def test_boolean_ops_and_type_separation():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2**64, (2, 5, 7), dtype=U)
    c = rng.integers(0, 2**64, 7, dtype=U)

    def program(p):
        x = p.input_bits(a if p.party_id == 0 else None, 0, a.shape)
        y = p.input_bits(b if p.party_id == 3 else None, 3, b.shape)
        z1, z2 = p.and_many([(x, y), (x, ~y)])
        return [p.reveal_bits(v) for v in
                (x ^ y, x & y, z1, z2, x ^ c, x & c, ~x, x << 3, y >> 5, x[1:3].T,
                 p.and_(x, p.public_bits(c)))]

    res = protocols.run(program, "rep4", test_seed=1)
    want = [a ^ b, a & b, a & b, a & ~b, a ^ c, a & c, ~a, a << U(3), b >> U(5), a[1:3].T,
            a & c]
    for v in res.values:
        for got, exp in zip(v, want):
            assert np.array_equal(got, exp)
    assert not cost_mismatches(res.merged)
    m = op_record(res, "and_many")
    # 70 words: 35 with the routes of mul (2, 2, 1, 1), 35 rotated (1, 1, 2, 2)
    assert m.rounds == 1 and m.bytes_sent == [8 * 105] * 4

    def mixing(p):
        x = p.input_bits(a if p.party_id == 0 else None, 0, a.shape)
        s = p.input(a if p.party_id == 0 else None, 0, a.shape)
        errors = []
        for bad in (lambda: x + 1, lambda: p.add(p.public(1), x), lambda: p.mul(x, x),
                    lambda: p.reveal(x), lambda: p.ltz(x), lambda: p.and_(s, x),
                    lambda: p.b2a(s), lambda: p.reveal_bits(s)):
            try:
                bad()
                errors.append(None)
            except TypeError as exc:
                errors.append(str(exc))
        return errors

    errors = protocols.run(mixing, "rep4", test_seed=1).values[0]
    assert all(errors), errors


def test_semi_honest_mode_same_values_fewer_bytes():
    x = np.concatenate([EDGES, np.arange(-50, 50)]).view(U)

    def program(p):
        s = p.input(x if p.party_id == 2 else None, 2, x.shape)
        return p.reveal(p.ltz(s)), p.reveal(p.eqz(s)), p.reveal(p.relu(s))

    active = protocols.run(program, "rep4", test_seed=2, options={"check": True})
    passive = protocols.run(program, "rep4", test_seed=2, options={"check": False})
    for va, vp in zip(active.values, passive.values):
        for a, b in zip(va, vp):
            assert np.array_equal(a, b)
    assert np.array_equal(active.values[0][0], (signed(x) < 0).astype(U))
    # the ops themselves send the same; only the checks (digests) differ
    for name in ("ltz", "eqz", "relu"):
        assert op_record(active, name).bytes_sent == op_record(passive, name).bytes_sent
    assert sum(active.summary()["bytes_sent"]) > sum(passive.summary()["bytes_sent"])


# ---- the generic non-linear layer on rep4 -----------------------------------------------------
VALUES = st.integers(-3, 3).map(lambda v: v * (1 << 40))      # small set: many ties


@pytest.mark.parametrize("transport", ["memory", "tcp"])
def test_comparisons_secret_and_public(transport):
    rng = np.random.default_rng(4)
    x = rng.integers(-4, 4, 40).astype(np.int64) * (1 << 20)
    y = rng.integers(-4, 4, 40).astype(np.int64) * (1 << 20)
    x[:len(EDGES)] = EDGES >> 2                                  # no overflow in x - y
    y[:len(EDGES)] = (EDGES >> 2)[::-1]
    c = np.int64(1 << 20)
    xu, yu = x.view(U), y.view(U)

    def program(p, sx, sy):
        ops = []
        for name in ("lt", "le", "gt", "ge", "eq", "ne"):
            f = getattr(p, name)
            ops += [f(sx, sy), f(sx, c), f(c, sy)]
        ops += [p.drelu(sx), p.relu(sx), p.select(p.lt(sx, sy), sx, sy),
                p.select(p.lt(sx, 0), 7, sy), p.clamp(sx, -c, c), p.clamp(sx, None, c)]
        return [p.reveal(v) for v in ops]

    res = run(program, xu, yu, transport=transport)
    oracle = {"lt": np.less, "le": np.less_equal, "gt": np.greater,
              "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal}
    want = []
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        f = oracle[name]
        want += [f(x, y), f(x, c), f(c, y)]
    want += [x >= 0, np.maximum(x, 0), np.minimum(x, y), np.where(x < 0, 7, y),
             np.clip(x, -c, c), np.minimum(x, c)]
    for got in res.values:
        for k, (g, w) in enumerate(zip(got, want)):
            assert np.array_equal(signed(g), np.asarray(w).astype(np.int64)), k


@FAST
@given(st.data())
def test_max_argmax_onehot_ties_lowest_index(data):
    lead = data.draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    k = data.draw(st.integers(1, 7))
    x = data.draw(hnp.arrays(np.int64, lead + (k,), elements=VALUES))
    n_idx = data.draw(st.integers(1, 6))
    idx = data.draw(hnp.arrays(np.int64, lead, elements=st.integers(-1, n_idx)))

    def program(p, sx, si):
        return [p.reveal(v) for v in (p.max(sx), p.argmax(sx), p.argmax_onehot(sx),
                                      p.onehot(si, n_idx))]

    mx, am, oh, hot = run(program, x.view(U), idx.view(U)).values[2]
    assert np.array_equal(signed(mx), x.max(axis=-1))
    assert np.array_equal(am, x.argmax(axis=-1).astype(U))        # numpy: first maximum
    assert np.array_equal(oh, (np.arange(k) == x.argmax(axis=-1)[..., None]).astype(U))
    assert np.array_equal(hot, (np.arange(n_idx) == idx[..., None]).astype(U))


def test_argmax_all_ties_and_wide_rows():
    x = np.zeros((3, 10), np.int64)
    x[1] = 5
    x[2, [3, 7]] = 9                                             # tie: lowest index wins

    def program(p, sx):
        return p.reveal(p.argmax(sx)), p.reveal(p.argmax_onehot(sx))

    am, oh = run(program, x.view(U)).values[0]
    assert am.tolist() == [0, 0, 3]
    assert np.array_equal(oh, (np.arange(10) == np.array([0, 0, 3])[:, None]).astype(U))


def test_fixed_point_functions_within_documented_errors():
    rng = np.random.default_rng(6)
    n = 1500
    dec = FX.decode
    xs = dec(FX.encode(np.concatenate([np.linspace(-12, 12, n), rng.uniform(-40, 40, n)])))
    xe = dec(FX.encode(np.concatenate([np.linspace(-20, 10, n), rng.uniform(-16, 8, n)])))
    xr = dec(FX.encode(2.0 ** rng.uniform(-6, 12, n)))
    num = dec(FX.encode(rng.uniform(-4, 4, n)))
    den = dec(FX.encode(rng.uniform(0.5, 20, n)))
    logits = dec(FX.encode(rng.normal(0, 4, (200, 10))))

    def program(p, *s):
        sig, ex, rec, a, b, lg = s
        return [p.reveal(v) for v in (p.sigmoid(sig), p.exp(ex), p.reciprocal(rec),
                                      p.div(a, b), p.softmax(lg))]

    res = run(program, *(FX.encode(v) for v in (xs, xe, xr, num, den, logits)))
    sig, ex, rec, q, sm = (dec(v) for v in res.values[3])
    assert np.abs(sig - 1 / (1 + np.exp(-xs))).max() < 0.0055
    e = np.exp(np.clip(xe, *EXP_RANGE))
    assert np.all(np.abs(ex - e) <= 0.008 * e + 0.0025)
    assert np.all(np.abs(rec - 1 / xr) <= 1e-3 / xr + 2.0 ** -14)
    assert np.all(np.abs(q - num / den) <= 1e-3 * np.abs(num / den) + 2e-3)
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    assert np.abs(sm - want).max() < 0.01
    assert np.allclose(sm.sum(-1), 1, atol=0.01)
    top = {m.name: m for m in res.merged if m.depth == 0}
    assert all(name in top for name in ("sigmoid", "exp", "reciprocal", "div", "softmax"))


def test_ltz_mul_fused_and_nonlinear_costs():
    """ltz_mul (the product rides along in round 3) costs the rounds of ltz;
    the composite ops' declared costs build on rep4's primitives: relu in
    the rounds of one ltz_mul, argmax over k = 10 in four tournament levels."""
    rng = np.random.default_rng(9)
    x = np.arange(-60, 60, dtype=np.int64).reshape(12, 10)
    y = rng.integers(0, 2**64, x.shape, dtype=U)

    small = x % 15 - 7                                 # |small| < 2^3

    def program(p, sx, sy, ss):
        b, by = p.ltz_mul(sx, sy)
        b3, by3 = p.ltz_mul(ss, sy, bits=4)            # no carry tree: the opening round
        return [p.reveal(v) for v in (b, by, b3, by3, p.relu(sx), p.argmax(sx))]

    res = run(program, x.view(U), y, small.view(U))
    b, by, b3, by3, relu, arg = res.values[1]
    assert np.array_equal(b, (x < 0).astype(U)) and np.array_equal(b3, (small < 0).astype(U))
    assert np.array_equal(by, np.where(x < 0, y, U(0)))
    assert np.array_equal(by3, np.where(small < 0, y, U(0)))
    assert np.array_equal(signed(relu), np.maximum(x, 0))
    assert np.array_equal(arg, x.argmax(axis=-1).astype(U))
    fused = [m for m in res.merged if m.name == "ltz_mul" and m.depth == 0]
    assert [m.rounds for m in fused] == [7, 3]
    ltz_alone = run(lambda p, s: p.ltz(s) and None, x.view(U))
    ltz = op_record(ltz_alone, "ltz")
    assert ltz.rounds == 7
    extra = [a - b for a, b in zip(fused[0].bytes_sent, ltz.bytes_sent)]
    assert extra == [8 * 180, 8 * 180, 8 * 180, 8 * 180]   # 120 products: (2,2,1,1)*60 + (1,1,2,2)*60
    assert op_record(res, "relu").rounds <= 8
    assert op_record(res, "argmax").rounds <= 4 * 8
    with pytest.raises(Exception):
        run(lambda p, s, t: p.ltz_mul(s, t[:1]), x.view(U), y)


# ---- privacy of a party's view ------------------------------------------------------------------
@pytest.mark.parametrize("party", [0, 2])
def test_view_of_a_party_does_not_depend_on_the_secret(party):
    """Everything party 0 (pair A) or party 2 (pair B) receives during ltz
    and eqz of a negative constant vs zero (different answers for both) is
    indistinguishable (two-sample tests on the words, p > 0.001)."""
    n = 200

    def program_for(secret):
        x = np.full(n, secret, dtype=np.int64).view(U)

        def program(p):
            s = p.input(x if p.party_id == 3 else None, 3, x.shape)
            p.ltz(s), p.eqz(s)
        return program

    words_a = received_words("rep4", program_for(-(1 << 40)), party, runs=12)
    words_b = received_words("rep4", program_for(0), party, runs=12)
    assert words_a.size == words_b.size > 1000
    differ, pvals = views_differ(words_a, words_b)
    assert not differ and min(pvals.values()) > 0.001, pvals


def test_privacy_test_detects_a_leak():
    """The same test on a leaky variant (a party receives x itself) fails."""
    n = 200

    def program_for(secret):
        x = np.full(n, secret, dtype=np.int64).view(U)

        def program(p):
            s = p.input(x if p.party_id == 3 else None, 3, x.shape)
            p.ltz(s)
            v = p.reveal(s)
            if p.party_id == 1:
                p.net.send(0, v)
            if p.party_id == 0:
                p.net.recv(1, v.size)
        return program

    words_a = received_words("rep4", program_for(-(1 << 40)), 0, runs=3)
    words_b = received_words("rep4", program_for(12345), 0, runs=3)
    assert views_differ(words_a, words_b)[0]


def test_properties():
    assert Rep4.actively_secure
    for name in ("ltz", "eqz", "msb", "a2b", "b2a", "and_", "and_many", "relu", "argmax",
                 "softmax", "sigmoid"):
        assert hasattr(Rep4, name), name

    def program(p):
        x = p.input(np.arange(4, dtype=U) if p.party_id == 0 else None, 0, (4,))
        b = p.a2b(x)
        assert isinstance(b, BoolShared) and len(b.parts) == 3
        assert isinstance(p.ltz(x), Shared) and not isinstance(p.ltz(x), BoolShared)
        with pytest.raises(ValueError):
            p.ltz(x, bits=0)
        with pytest.raises(ValueError):
            p.b2a(b, 64)
        return p.reveal(p.b2a(b, 1))

    res = protocols.run(program, "rep4", test_seed=1)
    assert res.values[0].tolist() == [0, 0, 1, 1]
