"""rep3's faster paths: comparisons with bounded inputs (bits=k), the fused
ltz_mul / relu, one-round truncated products (fxprod), the pairwise and
hybrid argmax, softmax with its fused gradient form, and the buffered PRG.
Values against numpy, declared cost against the ledger, round counts."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from mpcore.prg import Prg
from mpcore.kernels import native
from protocols.base import FxTerm
from protocols.softmax import goldschmidt_plan
from protocols.rep3.compare import cmp_rounds, cmp_width
from protocols.testing.conformance import cost_mismatches

U = np.uint64
FAST = settings(max_examples=15, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run(program, *arrays, protocol="rep3", seed=5, **kwargs):
    def prog(p):
        n = p.n_parties
        shared = [p.input(a if p.party_id == k % n else None, k % n, a.shape)
                  for k, a in enumerate(arrays)]
        return program(p, *shared)
    res = protocols.run(prog, protocol, test_seed=seed, **kwargs)
    bad = cost_mismatches(res.merged)
    assert not bad, "\n".join(bad)
    return res


def top(res, name):
    return [m for m in res.merged if m.name == name and m.depth == 0]


def _bounded(rng, k, n):
    """Signed values with |x| < 2^(k-1), edges first."""
    hi = (1 << (k - 1)) - 1
    edges = np.array([0, hi, -hi, 1 if k > 1 else 0, -1 if k > 1 else 0], dtype=np.int64)
    body = rng.integers(-hi, hi, n, dtype=np.int64, endpoint=True) if hi else np.zeros(n, np.int64)
    return np.concatenate([edges, body])


# ---- comparisons with a bound --------------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 2, 4, 5, 6, 9, 13, 16, 17, 32, 33, 40, 63, 64])
def test_bounded_ltz_eqz_ltz_mul_exact(bits):
    rng = np.random.default_rng(bits)
    x = _bounded(rng, bits, 150)
    y = rng.integers(0, 2**64, x.size, dtype=U)

    def program(p, sx, sy):
        b, by = p.ltz_mul(sx, sy, bits=bits)
        return [p.reveal(v) for v in (p.ltz(sx, bits=bits), p.eqz(sx, bits=bits), b, by,
                                      p.relu(sx, bits=bits))]

    res = run(program, x.view(U), y)
    lt, eq, b, by, relu = res.values[1]
    assert np.array_equal(lt, (x < 0).astype(U)) and np.array_equal(b, lt)
    assert np.array_equal(eq, (x == 0).astype(U))
    assert np.array_equal(by, np.where(x < 0, y, U(0)))
    assert np.array_equal(relu.view(np.int64), np.maximum(x, 0))
    k, g = cmp_width("ltz", bits)
    assert top(res, "ltz")[0].rounds == cmp_rounds(g) == 2 + int(np.log2(g))
    fused = top(res, "ltz_mul")[0]
    assert fused.rounds == cmp_rounds(g) + (1 if g == 1 else 0)
    assert top(res, "relu")[0].rounds == fused.rounds       # relu: one fused ltz_mul


def test_bits_make_comparisons_cheaper():
    x = np.arange(-3000, 3000, dtype=np.int64)
    res = run(lambda p, s: [p.ltz(s, bits=b) for b in (None, 33, 17, 5)] and None, x.view(U))
    lt = top(res, "ltz")
    assert [m.rounds for m in lt] == [6, 5, 4, 2]
    sent = [max(m.bytes_sent) for m in lt]
    assert sent[0] > sent[1] > sent[2] > sent[3]
    assert sent[1] < 0.7 * sent[0]                           # 33 bits: about 2 words, not 3
    with pytest.raises(Exception, match="bits must be an integer"):
        run(lambda p, s: p.ltz(s, bits=65), x.view(U))


def test_unbounded_ltz_keeps_full_ring_exactness():
    x = np.array([-(1 << 63), (1 << 63) - 1, 0, -1, 1 << 62], dtype=np.int64)
    res = run(lambda p, s: (p.reveal(p.ltz(s)), p.reveal(p.eqz(s))), x.view(U))
    lt, eq = res.values[0]
    assert np.array_equal(lt, (x < 0).astype(U)) and np.array_equal(eq, (x == 0).astype(U))


# ---- fxprod --------------------------------------------------------------------------------
def test_fxprod_terms_one_round_and_unbiased():
    rng = np.random.default_rng(0)
    q = lambda m: FX.decode(FX.encode(m))                  # noqa: E731  (the encoded values)
    A, B, C = q(rng.normal(0, 1, (40, 30))), q(rng.normal(0, 1, (30, 20))), q(rng.normal(0, 1, (40, 30)))
    v = q(rng.normal(0, 1, 30))
    bias = np.full(40 * 20, 0.5)

    def program(p, a, b, c, vv, add):
        add = add.reshape(40, 20)
        terms = [FxTerm("matmul", a, b), FxTerm("mul", a, c), FxTerm("mul", a, vv),
                 FxTerm("dot", a, vv), FxTerm("lin", a, scale=FX.encode(0.25)),
                 FxTerm("matmul", a, b, scale=np.uint64(2),
                        add=p.mul_public(add, np.uint64(1 << FX.frac_bits))),
                 FxTerm("lin", a, shift=3, add=np.uint64(8), rounded=False)]
        return [p.reveal(o) for o in p.fxprod(terms)]

    enc = [FX.encode(m) for m in (A, B, C, v, bias)]
    res = run(program, *enc)
    got = [FX.decode(g) for g in res.values[0]]
    want = [A @ B, A * C, A * v, A @ v, A * 0.25, (A @ B) * 2 + 0.5]
    for g, w in zip(got, want):
        assert np.abs(g - w).max() < 1.01 * FX.resolution        # stochastic rounding: < 1 unit
    # rounded=False with shift 3: the protocol's plain truncation of x + 8
    plain = got[-1] * 2 ** FX.frac_bits
    exact = (enc[0].view(np.int64) + 8) >> 3
    assert np.all((exact - plain >= 0) & (exact - plain <= 1))
    fx = top(res, "fxprod")[0]
    assert fx.rounds == 1
    # unbiased rounding: the mean error of many products is far below half a unit
    err = (got[1] - A * C) / FX.resolution
    assert abs(err.mean()) < 0.1


def test_fxprod_generic_protocols_match():
    rng = np.random.default_rng(1)
    A = rng.normal(0, 1, (6, 5))

    def program(p, a):
        return p.reveal(p.fxprod([FxTerm("mul", a, a), FxTerm("lin", a, scale=FX.encode(3.0))])[1])

    for proto in ("ref", "rep3", "rep4"):
        got = FX.decode(run(program, FX.encode(A), protocol=proto).values[0])
        assert np.abs(got - 3 * A).max() < 3 * FX.resolution, proto


# ---- argmax methods --------------------------------------------------------------------------
VALUES = st.integers(-3, 3).map(lambda v: v * (1 << 20))        # many ties


@FAST
@given(st.data())
def test_argmax_methods_agree_and_break_ties_low(data):
    lead = data.draw(st.sampled_from([(), (2,), (3, 2)]))
    k = data.draw(st.integers(1, 11))
    x = data.draw(hnp.arrays(np.int64, lead + (k,), elements=VALUES))
    methods = [("tournament", None), ("pairwise", None), ("pairwise", 24), ("hybrid", 24),
               ("hybrid", None)]

    def program(p, sx):
        out = []
        for m, b in methods:
            out += [p.reveal(p.max(sx, bits=b, method=m)), p.reveal(p.argmax(sx, bits=b, method=m)),
                    p.reveal(p.argmax_onehot(sx, bits=b, method=m))]
        return out

    got = run(program, x.view(U)).values[0]
    for i in range(len(methods)):
        mx, am, oh = got[3 * i:3 * i + 3]
        assert np.array_equal(mx.view(np.int64), x.max(axis=-1))
        assert np.array_equal(am, x.argmax(axis=-1).astype(U))
        assert np.array_equal(oh, (np.arange(k) == x.argmax(axis=-1)[..., None]).astype(U))


def test_pairwise_and_hybrid_rounds():
    x = np.random.default_rng(2).integers(-1000, 1000, (50, 10)).astype(np.int64)
    res = run(lambda p, s: [p.argmax_onehot(s, bits=32, method=m)
                            for m in ("tournament", "pairwise", "hybrid")] and None, x.view(U))
    t, pw, hy = top(res, "argmax_onehot")
    assert (t.rounds, pw.rounds, hy.rounds) == (4 * 6, 5 + 2, 5 + 5 + 2 + 1)
    assert max(hy.bytes_sent) < 0.6 * max(pw.bytes_sent)   # 15 comparisons per row, not 45


# ---- softmax ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 10, 20])
def test_softmax_and_its_gradient_form(k):
    rng = np.random.default_rng(k)
    lg = FX.decode(FX.encode(rng.normal(0, 5, (64, k))))
    lg[0] = 2.0                                            # all tied
    if k > 1:
        lg[1, :] = np.arange(k) * 12.0                     # far apart: the clamp acts
    Y = np.eye(k)[rng.integers(0, k, 64)]
    want = np.exp(lg - lg.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)

    def program(p, x, y):
        outs = [p.softmax(x), p.softmax(x, bits=31), p.softmax(x, minus=y, scale=1 / 64),
                p.softmax(x, minus=y, scale=0.1 / 60)]
        return [FX.decode(p.reveal(o)) for o in outs]

    res = run(program, FX.encode(lg), FX.encode(Y))
    sm, smb, g64, g60 = res.values[0]
    assert np.abs(sm - want).max() < 0.004 and np.abs(smb - want).max() < 0.004
    assert np.abs(g64 - (want - Y) / 64).max() < 4e-5
    assert np.abs(g60 - (want - Y) * 0.1 / 60).max() < 4e-5
    rounds = [m.rounds for m in top(res, "softmax")]
    if k == 10:
        assert rounds == [20, 19, 20, 21]                  # 1/64: no extra round; 0.1/60: one


def test_goldschmidt_plan_converges_for_any_class_count():
    for k in (2, 3, 10, 16, 17, 100, 1000):
        for linear in (True, False):
            a, b, t = goldschmidt_plan(k, linear)
            assert a > 0 and 1 <= t <= 16


# ---- buffered PRG ------------------------------------------------------------------------------
def test_prg_buffer_serves_the_same_stream():
    key = bytes(range(16))
    a, b = Prg(key), Prg(key)
    sizes = [1, 5, 2, 4095, 4096, 4097, 3, 10000, 7]
    for n in sizes:
        pos = b.counter
        got = a.next(n)
        want = native.aes_ctr(key, 0, pos, n)
        b.next(n)
        assert np.array_equal(got, want) and a.counter == b.counter
        got[:] = 0                                       # the caller owns its copy
    assert not np.array_equal(a.next(4), np.zeros(4, U))
