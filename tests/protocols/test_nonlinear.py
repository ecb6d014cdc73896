"""Comparisons, conversions and non-linear functions on rep3: values against
a numpy oracle, declared cost against the ledger, and privacy of a party's
view (two-sample tests)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from protocols.nonlinear import EXP_RANGE
from protocols.rep3 import Rep3
from protocols.rep3.compare import chunk_sizes
from protocols.testing import strategies as S
from protocols.testing.conformance import cost_mismatches

U = np.uint64
EDGES = np.array([0, 1, -1, 2, -2, (1 << 63) - 1, -(1 << 63), -(1 << 63) + 1,
                  1 << 62, -(1 << 62), (1 << 32), -(1 << 32)], dtype=np.int64)
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run(program, *arrays, transport="memory", seed=5, **kwargs):
    """Secret-share `arrays` (uint64; input by parties 0, 1, 2 in turn) and run
    program(proto, *shared) on rep3."""
    def prog(p):
        shared = [p.input(a if p.party_id == k % 3 else None, k % 3, a.shape)
                  for k, a in enumerate(arrays)]
        return program(p, *shared)
    return protocols.run(prog, "rep3", transport=transport, test_seed=seed, **kwargs)


def assert_costs(res):
    bad = cost_mismatches(res.merged)
    assert not bad, "\n".join(bad)


def signed(a):
    return np.asarray(a, dtype=U).view(np.int64)


# ---- ltz / eqz / a2b / b2a: exact over the whole ring ------------------------------------------
@pytest.mark.parametrize("transport", ["memory", "tcp"])
def test_ltz_eqz_a2b_exact_on_edges(transport):
    rng = np.random.default_rng(1)
    x = np.concatenate([EDGES, rng.integers(-(1 << 63), (1 << 63) - 1, 200, dtype=np.int64,
                                            endpoint=True)]).view(U)
    y = np.concatenate([EDGES[::-1], x[len(EDGES):][::-1]]).view(U)
    y[:5] = x[:5]                                        # some equal pairs

    def program(p, sx, sy):
        return (p.reveal(p.ltz(sx)), p.reveal(p.eqz(sx)), p.reveal_bits(p.a2b(sx)),
                p.reveal(p.eq(sx, sy)), p.reveal(p.b2a(p.a2b(sx), 63)))

    res = run(program, x, y, transport=transport)
    for lt, eqz, bits, eq, msb in res.values:
        assert np.array_equal(lt, (signed(x) < 0).astype(U))
        assert np.array_equal(eqz, (x == 0).astype(U))
        assert np.array_equal(bits, x)
        assert np.array_equal(eq, (x == y).astype(U))
        assert np.array_equal(msb, x >> U(63))
    assert_costs(res)
    ltz = next(m for m in res.merged if m.name == "ltz")
    assert ltz.rounds == 6
    assert next(m for m in res.merged if m.name == "a2b").rounds == 7


@FAST
@given(st.data())
def test_ltz_eqz_a2b_b2a_random(data):
    shape = data.draw(S.shapes(max_dims=3, max_side=6))
    x = data.draw(S.ring_arrays(shape))
    bit = data.draw(st.integers(0, 63))

    def program(p, sx):
        b = p.a2b(sx)
        return (p.reveal(p.ltz(sx)), p.reveal(p.eqz(sx)), p.reveal_bits(b),
                p.reveal(p.b2a(b, bit)))

    res = run(program, x)
    lt, eqz, bits, inj = res.values[1]
    assert lt.shape == eqz.shape == bits.shape == inj.shape == shape
    assert np.array_equal(lt, (signed(x) < 0).astype(U))
    assert np.array_equal(eqz, (x == 0).astype(U))
    assert np.array_equal(bits, x)
    assert np.array_equal(inj, (x >> U(bit)) & U(1))
    assert_costs(res)


def test_ltz_cost_per_element():
    """6 rounds and about 3.1 words (25 bytes) per element per party."""
    n = 30000
    x = np.random.default_rng(2).integers(0, 2**64, n, dtype=U)
    res = run(lambda p, s: (p.ltz(s), p.eqz(s)) and None, x)
    assert_costs(res)
    for name, words in (("ltz", 3.15), ("eqz", 3.05)):
        m = next(m for m in res.merged if m.name == name)
        assert m.rounds == 6
        assert max(m.bytes_sent) <= 8 * words * n, (name, m.bytes_sent)


def test_chunks_cover_small_batches():
    assert chunk_sizes(0) == [0, 0, 0] and chunk_sizes(4) == [2, 1, 1]
    for n in (0, 1, 2, 3, 5):
        x = np.arange(n, dtype=U) - U(2)
        res = run(lambda p, s: (p.reveal(p.ltz(s)), p.reveal(p.eqz(s))), x)
        lt, eq = res.values[0]
        assert np.array_equal(lt, (signed(x) < 0).astype(U))
        assert np.array_equal(eq, (x == 0).astype(U))
        assert_costs(res)


# ---- boolean sharing ----------------------------------------------------------------------
def test_boolean_ops_and_type_separation():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2**64, (2, 5, 7), dtype=U)
    c = rng.integers(0, 2**64, 7, dtype=U)

    def program(p):
        x = p.input_bits(a if p.party_id == 0 else None, 0, a.shape)
        y = p.input_bits(b if p.party_id == 2 else None, 2, b.shape)
        z1, z2 = p.and_many([(x, y), (x, ~y)])
        out = [p.reveal_bits(v) for v in
               (x ^ y, x & y, z1, z2, x ^ c, x & c, ~x, x << 3, y >> 5, x[1:3].T)]
        return out

    res = protocols.run(program, "rep3", test_seed=1)
    want = [a ^ b, a & b, a & b, a & ~b, a ^ c, a & c, ~a, a << U(3), b >> U(5), a[1:3].T]
    for got, exp in zip(res.values[0], want):
        assert np.array_equal(got, exp)
    assert_costs(res)
    m = next(m for m in res.merged if m.name == "and_many")
    assert m.rounds == 1 and m.bytes_sent == [8 * 70] * 3

    def mixing(p):
        x = p.input_bits(a if p.party_id == 0 else None, 0, a.shape)
        errors = []
        for bad in (lambda: x + 1, lambda: p.add(p.public(1), x), lambda: p.mul(x, x),
                    lambda: p.reveal(x), lambda: p.ltz(x), lambda: p.and_(p.public(1), x)):
            try:
                bad()
                errors.append(None)
            except TypeError as exc:
                errors.append(str(exc))
        return errors

    errors = protocols.run(mixing, "rep3", test_seed=1).values[0]
    assert all(errors), errors


# ---- comparisons and selections ------------------------------------------------------------
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
                p.select(p.lt(sx, 0), 7, sy)]
        return [p.reveal(v) for v in ops]

    res = run(program, xu, yu, transport=transport)
    got = res.values[2]
    oracle = {"lt": np.less, "le": np.less_equal, "gt": np.greater,
              "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal}
    want = []
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        f = oracle[name]
        want += [f(x, y), f(x, c), f(c, y)]
    want += [x >= 0, np.maximum(x, 0), np.minimum(x, y), np.where(x < 0, 7, y)]
    for k, (g, w) in enumerate(zip(got, want)):
        assert np.array_equal(signed(g), np.asarray(w).astype(np.int64)), k
    assert_costs(res)


@FAST
@given(st.data())
def test_clamp(data):
    shape = data.draw(S.shapes())
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-50, 50)))
    lo = data.draw(st.floats(-10, 0))
    hi = data.draw(st.floats(0, 10))
    xe = FX.encode(x)
    lo_e, hi_e = FX.encode(lo), FX.encode(hi)

    def program(p, sx):
        return [p.reveal(v) for v in (p.clamp(sx, lo_e, hi_e), p.clamp(sx, lo_e, None),
                                      p.clamp(sx, None, hi_e))]

    res = run(program, xe)
    both, low, high = (signed(v) for v in res.values[0])
    xs, l, h = signed(xe), np.int64(signed(lo_e)), np.int64(signed(hi_e))
    assert np.array_equal(both, np.clip(xs, l, h))
    assert np.array_equal(low, np.maximum(xs, l))
    assert np.array_equal(high, np.minimum(xs, h))
    assert_costs(res)


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

    res = run(program, x.view(U), idx.view(U))
    mx, am, oh, hot = res.values[0]
    assert np.array_equal(signed(mx), x.max(axis=-1))
    assert np.array_equal(am, x.argmax(axis=-1).astype(U))        # numpy: first maximum
    assert np.array_equal(oh, (np.arange(k) == x.argmax(axis=-1)[..., None]).astype(U))
    assert np.array_equal(hot, (np.arange(n_idx) == idx[..., None]).astype(U))
    assert_costs(res)


# ---- fixed-point functions --------------------------------------------------------------------
def test_fixed_point_functions_within_documented_errors():
    rng = np.random.default_rng(6)
    n = 3000
    dec = FX.decode
    xs = dec(FX.encode(np.concatenate([np.linspace(-12, 12, n), rng.uniform(-40, 40, n)])))
    xe = dec(FX.encode(np.concatenate([np.linspace(-20, 10, n), rng.uniform(-16, 8, n)])))
    xr = dec(FX.encode(2.0 ** rng.uniform(-6, 12, n)))
    num = dec(FX.encode(rng.uniform(-4, 4, n)))
    den = dec(FX.encode(rng.uniform(0.5, 20, n)))
    logits = dec(FX.encode(rng.normal(0, 4, (300, 10))))

    def program(p, *s):
        sig, ex, rec, a, b, lg = s
        return [p.reveal(v) for v in (p.sigmoid(sig), p.exp(ex), p.reciprocal(rec),
                                      p.div(a, b), p.softmax(lg))]

    res = run(program, *(FX.encode(v) for v in (xs, xe, xr, num, den, logits)))
    sig, ex, rec, q, sm = (dec(v) for v in res.values[0])
    assert np.abs(sig - 1 / (1 + np.exp(-xs))).max() < 0.0055
    e = np.exp(np.clip(xe, *EXP_RANGE))
    assert np.all(np.abs(ex - e) <= 0.008 * e + 0.0025)
    assert np.all(np.abs(rec - 1 / xr) <= 1e-3 / xr + 2.0 ** -14)
    assert np.all(np.abs(q - num / den) <= 1e-3 * np.abs(num / den) + 2e-3)
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    assert np.abs(sm - want).max() < 0.01
    assert np.allclose(sm.sum(-1), 1, atol=0.01)
    bad = cost_mismatches(res.merged)
    assert not bad, "\n".join(bad)
    top = [m for m in res.merged if m.depth == 0 and m.declared is not None]
    assert not cost_mismatches(top)


# ---- privacy of a party's view ------------------------------------------------------------------
class _Recorder:
    """Wraps party 1's network; records what it receives (and sends) inside ltz."""

    def __init__(self):
        self.recv, self.sent = [], []

    def __call__(self, party_id, net):
        if party_id != 1:
            return net
        recv_bytes, send = net.recv_bytes, net.send

        def rec_recv(peer, nbytes=None):
            data = recv_bytes(peer, nbytes)
            if net.ledger.current_op.startswith("ltz"):
                self.recv.append(np.frombuffer(bytes(data), dtype=U).copy())
            return data

        def rec_send(peer, payload):
            if net.ledger.current_op.startswith("ltz"):
                self.sent.append(np.frombuffer(bytes(memoryview(payload).cast("B")),
                                               dtype=U).copy())
            return send(peer, payload)

        net.recv_bytes, net.send = rec_recv, rec_send
        return net


def _views(secret, runs=3, n=3000, seed0=0, leak=False, per_message=False):
    """Party 1's received words and its opened last-round words (XOR of the
    last message it sent and the two it received) over `runs` runs of ltz on
    n copies of `secret`; or (per_message) the words of each received
    message, pooled over the runs."""
    words, opened, messages = [], [], []
    x = np.full(n, secret, dtype=np.int64).view(U)
    for r in range(runs):
        rec = _Recorder()

        def program(p, s):
            p.ltz(s)
            if leak:                                      # a leaky variant: x itself arrives
                v = p.reveal(s)
                if p.party_id == 0:
                    p.net.send(1, v)
                if p.party_id == 1:
                    p.net.recv(0, v.size)
            return None

        def wrapped(p, s):
            if leak:
                with p.ledger.op("ltz_leak"):
                    return program(p, s)
            return program(p, s)

        run(wrapped, x, seed=1000 * seed0 + r, net_wrapper=rec)
        words.append(np.concatenate(rec.recv))
        opened.append(rec.sent[-1] ^ rec.recv[-1] ^ rec.recv[-2])
        messages.append(rec.recv)
    if per_message:
        return [np.concatenate(m) for m in zip(*messages)]
    return np.concatenate(words), np.concatenate(opened)


def _bits(words):
    return np.unpackbits(words.view(np.uint8))


def _same_distribution(a, b):
    """p-values of a KS test on the words (top 52 bits as reals) and a
    chi-square test on bit counts per bit position."""
    ks = stats.ks_2samp((a >> U(12)).astype(np.float64), (b >> U(12)).astype(np.float64)).pvalue
    ca = np.unpackbits(a.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=0)
    cb = np.unpackbits(b.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=0)
    table = np.array([[ca.sum(), len(a) * 64 - ca.sum()], [cb.sum(), len(b) * 64 - cb.sum()]])
    chi = stats.chi2_contingency(table).pvalue
    return ks, chi


def test_view_of_party1_does_not_depend_on_the_secret():
    A, B = -(1 << 40), 0                     # negative vs zero: different ltz AND eqz answers
    words_a, open_a = _views(A, seed0=1)
    words_b, open_b = _views(B, seed0=2)
    assert words_a.size == words_b.size
    for p in _same_distribution(words_a, words_b):
        assert p > 0.001, p
    # message by message (the 9 messages party 1 receives in the 6 rounds)
    per_a = _views(A, seed0=1, per_message=True)
    per_b = _views(B, seed0=2, per_message=True)
    assert len(per_a) == len(per_b) == 9
    for k, (ma, mb) in enumerate(zip(per_a, per_b)):
        assert ma.size == mb.size > 100
        p = stats.ks_2samp((ma >> U(12)).astype(np.float64),
                           (mb >> U(12)).astype(np.float64)).pvalue
        assert p > 0.001, (k, p)
    # the opened last-round value is the result XOR a random bit: uniform bits
    ba, bb = _bits(open_a), _bits(open_b)
    p = stats.chi2_contingency([[ba.sum(), ba.size - ba.sum()],
                                [bb.sum(), bb.size - bb.sum()]]).pvalue
    assert p > 0.001, p


def test_privacy_test_detects_leaky_variants(monkeypatch):
    A, B = -(1 << 40), 12345
    # 1. a party that receives x itself
    words_a, _ = _views(A, runs=1, seed0=3, leak=True)
    words_b, _ = _views(B, runs=1, seed0=4, leak=True)
    assert min(_same_distribution(words_a, words_b)) < 1e-6
    # 2. ltz without the daBit mask on the last opening: the opened bit is the result
    original = Rep3._dabit_round1

    def unmasked(self, c):
        out = original(self, c)
        c.r_bits = tuple(np.zeros_like(b) for b in c.r_bits)
        return out

    monkeypatch.setattr(Rep3, "_dabit_round1", unmasked)
    _, open_a = _views(A, runs=1, n=640, seed0=5)
    _, open_b = _views(B, runs=1, n=640, seed0=6)
    ba, bb = _bits(open_a), _bits(open_b)
    p = stats.chi2_contingency([[ba.sum(), ba.size - ba.sum()],
                                [bb.sum(), bb.size - bb.sum()]]).pvalue
    assert p < 1e-6
