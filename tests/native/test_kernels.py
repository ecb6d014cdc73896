"""Tests for the native kernel module `safenet_native`.

Every kernel is checked against an independent oracle:
  * elementwise ring ops -> numpy uint64 arithmetic (wraps mod 2^64) and,
    in the hypothesis tests, plain Python integers mod 2^64;
  * GEMMs -> a numba @njit triple loop;
  * aes_ctr -> the `cryptography` package's AES-128-ECB applied to the same
    counter blocks (plus the FIPS-197 known-answer vector);
  * fx_encode / fx_decode -> exact Python rationals (fractions.Fraction).
It also checks argument validation messages and that the GIL is released.
"""

from __future__ import annotations

import threading
import time
import zlib
from fractions import Fraction

import numba
import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safenet_native as sn

M64 = 2**64
EDGE_INTS = [0, 1, 2, 3, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**63 + 1, M64 - 2, M64 - 1]
EDGE = np.array(EDGE_INTS, dtype=np.uint64)
SIZES = [0, 1, 7, 33, 1001]
SHAPES = [(n,) for n in SIZES] + [(), (3, 5, 7), (4, 0), (2, 17)]

HSET = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rand_u64(rng: np.random.Generator, shape) -> np.ndarray:
    """Uniform uint64 values with ~25% of the entries replaced by edge values."""
    a = rng.integers(0, M64, size=shape, dtype=np.uint64)
    flat = a.reshape(-1)
    if flat.size:
        mask = rng.random(flat.size) < 0.25
        flat[mask] = rng.choice(EDGE, int(mask.sum()))
    return a


@pytest.fixture
def rng(request) -> np.random.Generator:
    # deterministic per test, different between tests
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


def np_oracle(f, *args):
    with np.errstate(over="ignore"):
        return np.asarray(f(*args), dtype=np.uint64)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.uint64
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------ elementwise

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops(rng, name, shape):
    a, b = rand_u64(rng, shape), rand_u64(rng, shape)
    assert_same(getattr(sn, name)(a, b), np_oracle(BINARY[name], a, b))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_neg(rng, shape):
    a = rand_u64(rng, shape)
    assert_same(sn.neg(a), np_oracle(lambda x: np.uint64(0) - x, a))


def _cross3_np(xa, xb, ya, yb, z=None):
    r = xa * ya + xa * yb + xb * ya
    return r if z is None else r + z


def _and3_np(xa, xb, ya, yb, z=None):
    r = (xa & ya) ^ (xa & yb) ^ (xb & ya)
    return r if z is None else r ^ z


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_zero", [False, True])
def test_cross3_and_and_cross3(rng, shape, with_zero):
    xa, xb, ya, yb, z = (rand_u64(rng, shape) for _ in range(5))
    zero = z if with_zero else None
    assert_same(sn.cross3(xa, xb, ya, yb, zero), np_oracle(_cross3_np, xa, xb, ya, yb, zero))
    assert_same(sn.and_cross3(xa, xb, ya, yb, zero=zero), np_oracle(_and3_np, xa, xb, ya, yb, zero))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cross2(rng, shape):
    xa, xb, ya, yb = (rand_u64(rng, shape) for _ in range(4))
    assert_same(sn.cross2(xa, xb, ya, yb), np_oracle(lambda: xa * yb + xb * ya))


@pytest.mark.parametrize("shape", [(0,), (1,), (33,), (1001,), (3, 5, 7)], ids=str)
@pytest.mark.parametrize("d", [0, 1, 7, 31, 32, 33, 62, 63])
def test_shifts(rng, shape, d):
    a = rand_u64(rng, shape)
    assert_same(sn.shl(a, d), np_oracle(lambda: a << np.uint64(d)))
    assert_same(sn.shr(a, d), np_oracle(lambda: a >> np.uint64(d)))
    assert_same(sn.sar(a, d), (a.view(np.int64) >> np.int64(d)).view(np.uint64))


u64_int = st.one_of(st.sampled_from(EDGE_INTS), st.integers(0, M64 - 1))


@HSET
@given(st.lists(st.tuples(u64_int, u64_int, u64_int, u64_int, u64_int), max_size=70))
def test_hypothesis_products_vs_python_ints(rows):
    cols = list(zip(*rows)) if rows else [(), (), (), (), ()]
    xa, xb, ya, yb, z = (np.array(c, dtype=np.uint64).reshape(-1) for c in cols)
    want3 = [(p * r + p * s + q * r + t) % M64 for p, q, r, s, t in rows]
    want2 = [(p * s + q * r) % M64 for p, q, r, s, t in rows]
    wantand = [(p & r) ^ (p & s) ^ (q & r) ^ t for p, q, r, s, t in rows]
    wantmul = [(p * q) % M64 for p, q, r, s, t in rows]
    wantsub = [(p - q) % M64 for p, q, r, s, t in rows]
    assert sn.cross3(xa, xb, ya, yb, z).tolist() == want3
    assert sn.cross2(xa, xb, ya, yb).tolist() == want2
    assert sn.and_cross3(xa, xb, ya, yb, z).tolist() == wantand
    assert sn.mul(xa, xb).tolist() == wantmul
    assert sn.sub(xa, xb).tolist() == wantsub
    assert sn.neg(xa).tolist() == [(-p) % M64 for p in xa.tolist()]


@HSET
@given(st.lists(u64_int, max_size=40), st.integers(0, 63))
def test_hypothesis_shifts_vs_python_ints(vals, d):
    a = np.array(vals, dtype=np.uint64).reshape(-1)
    signed = [v - M64 if v >= 2**63 else v for v in vals]
    assert sn.shl(a, d).tolist() == [(v << d) % M64 for v in vals]
    assert sn.shr(a, d).tolist() == [v >> d for v in vals]
    assert sn.sar(a, d).tolist() == [(s >> d) % M64 for s in signed]


# ------------------------------------------------------------------- out=

def test_out_is_written_and_returned(rng):
    a, b = rand_u64(rng, (5, 7)), rand_u64(rng, (5, 7))
    out = np.empty((5, 7), dtype=np.uint64)
    r = sn.add(a, b, out=out)
    assert r is out
    assert_same(out, np_oracle(lambda: a + b))
    zero = rand_u64(rng, (5, 7))
    r = sn.cross3(a, b, b, a, zero, out=out)
    assert r is out
    assert_same(out, np_oracle(_cross3_np, a, b, b, a, zero))
    r = sn.shl(a, 3, out=out)
    assert r is out


def test_out_aliasing_inputs(rng):
    # exact aliasing (in-place)
    a, b = rand_u64(rng, 1001), rand_u64(rng, 1001)
    want = np_oracle(lambda: a * b)
    a2 = a.copy()
    sn.mul(a2, b, out=a2)
    assert_same(a2, want)
    xa, xb, ya, yb = (rand_u64(rng, 257) for _ in range(4))
    want = np_oracle(_cross3_np, xa, xb, ya, yb)
    sn.cross3(xa, xb, ya, yb, out=ya)
    assert_same(ya, want)
    # partial overlap: out is the input shifted by one element
    buf = rand_u64(rng, 1002)
    src = buf[:1001].copy()
    want = np_oracle(lambda: src + src)
    sn.add(buf[:1001], buf[:1001], out=buf[1:])
    assert_same(buf[1:], want)


# ------------------------------------------------------------------ GEMM

@numba.njit(cache=False)
def nb_matmul(A, B):
    m, k = A.shape
    n = B.shape[1]
    C = np.zeros((m, n), dtype=np.uint64)
    for i in range(m):
        for j in range(n):
            acc = np.uint64(0)
            for p in range(k):
                acc += A[i, p] * B[p, j]
            C[i, j] = acc
    return C


@numba.njit(cache=False)
def nb_cross3(XA, XB, YA, YB, Z):
    m, k = XA.shape
    n = YA.shape[1]
    C = Z.copy()
    for i in range(m):
        for j in range(n):
            acc = np.uint64(0)
            for p in range(k):
                acc += XA[i, p] * YA[p, j] + XA[i, p] * YB[p, j] + XB[i, p] * YA[p, j]
            C[i, j] += acc
    return C


@numba.njit(cache=False)
def nb_cross2(XA, XB, YA, YB):
    m, k = XA.shape
    n = YA.shape[1]
    C = np.zeros((m, n), dtype=np.uint64)
    for i in range(m):
        for j in range(n):
            acc = np.uint64(0)
            for p in range(k):
                acc += XA[i, p] * YB[p, j] + XB[i, p] * YA[p, j]
            C[i, j] = acc
    return C


def test_numba_oracle_wraps():
    # the oracle itself must do mod-2^64 arithmetic
    A = np.array([[M64 - 1, 2**63]], dtype=np.uint64)
    B = np.array([[3], [2]], dtype=np.uint64)
    assert nb_matmul(A, B).tolist() == [[((M64 - 1) * 3 + 2**63 * 2) % M64]]


# (m, k, n); the last ones span several KC / MC / NC / tile blocks and edges
GEMM_SHAPES = [
    (1, 1, 1), (3, 5, 7), (17, 33, 9), (65, 129, 31),
    (0, 5, 3), (4, 0, 3), (2, 3, 0), (8, 16, 16), (9, 17, 33),
    (100, 300, 40), (13, 70, 1030),
]


@pytest.mark.parametrize("mkn", GEMM_SHAPES, ids=str)
def test_matmul_family(rng, mkn):
    m, k, n = mkn
    XA, XB = rand_u64(rng, (m, k)), rand_u64(rng, (m, k))
    YA, YB = rand_u64(rng, (k, n)), rand_u64(rng, (k, n))
    Z = rand_u64(rng, (m, n))
    assert_same(sn.matmul(XA, YA), nb_matmul(XA, YA))
    zeros = np.zeros((m, n), dtype=np.uint64)
    assert_same(sn.matmul_cross3(XA, XB, YA, YB), nb_cross3(XA, XB, YA, YB, zeros))
    assert_same(sn.matmul_cross3(XA, XB, YA, YB, zero=Z), nb_cross3(XA, XB, YA, YB, Z))
    assert_same(sn.matmul_cross2(XA, XB, YA, YB), nb_cross2(XA, XB, YA, YB))


def test_matmul_edge_values():
    # all-(2^64-1) and 2^63 matrices stress every carry path
    for v in (M64 - 1, 2**63, 2**63 - 1):
        A = np.full((9, 37), v, dtype=np.uint64)
        B = np.full((37, 18), v, dtype=np.uint64)
        assert_same(sn.matmul(A, B), np.full((9, 18), (37 * v * v) % M64, dtype=np.uint64))


def test_matmul_inputs_may_alias(rng):
    X = rand_u64(rng, (20, 20))
    assert_same(sn.matmul_cross3(X, X, X, X), nb_cross3(X, X, X, X, np.zeros((20, 20), np.uint64)))


@HSET
@given(st.integers(1, 12), st.integers(0, 20), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_hypothesis_matmul_vs_python_ints(m, k, n, seed):
    r = np.random.default_rng(seed)
    A, B = rand_u64(r, (m, k)), rand_u64(r, (k, n))
    Al, Bl = A.tolist(), B.tolist()
    want = [[sum(Al[i][p] * Bl[p][j] for p in range(k)) % M64 for j in range(n)] for i in range(m)]
    assert sn.matmul(A, B).tolist() == want


# ------------------------------------------------------------------- AES

def aes_ctr_reference(key: bytes, nonce: int, counter: int, n: int) -> np.ndarray:
    nblocks = (n + 1) // 2
    blocks = b"".join(
        nonce.to_bytes(8, "little") + ((counter + i) % M64).to_bytes(8, "little")
        for i in range(nblocks)
    )
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    ct = enc.update(blocks) + enc.finalize()
    return np.frombuffer(ct, dtype="<u8")[:n].astype(np.uint64)


AES_IMPLS = {"aes_ctr": sn.aes_ctr, "aes_ctr_portable": sn.aes_ctr_portable}


@pytest.mark.parametrize("impl", sorted(AES_IMPLS))
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 15, 16, 17, 18, 33, 1001])
def test_aes_ctr_vs_cryptography(rng, impl, n):
    key = rng.bytes(16)
    nonce = int(rng.integers(0, M64, dtype=np.uint64))
    counter = int(rng.integers(0, M64, dtype=np.uint64))
    assert_same(AES_IMPLS[impl](key, nonce, counter, n), aes_ctr_reference(key, nonce, counter, n))


@pytest.mark.parametrize("impl", sorted(AES_IMPLS))
def test_aes_ctr_counter_wraps(impl):
    key = bytes(range(16))
    for counter in (M64 - 1, M64 - 5, M64 - 17):
        got = AES_IMPLS[impl](key, 2**64 - 1, counter, 41)
        assert_same(got, aes_ctr_reference(key, 2**64 - 1, counter, 41))


@pytest.mark.parametrize("impl", sorted(AES_IMPLS))
def test_aes_fips197_known_answer(impl):
    # FIPS-197 Appendix C.1: key 00..0f, plaintext 00112233..eeff
    key = bytes(range(16))
    pt = bytes.fromhex("00112233445566778899aabbccddeeff")
    nonce = int.from_bytes(pt[:8], "little")
    counter = int.from_bytes(pt[8:], "little")
    ct = bytes.fromhex("69c4e0d86a7b0430d8cdb78070b4c55a")
    want = [int.from_bytes(ct[:8], "little"), int.from_bytes(ct[8:], "little")]
    assert AES_IMPLS[impl](key, nonce, counter, 2).tolist() == want


def test_aes_paths_agree_and_into(rng):
    key = rng.bytes(16)
    n = 2 * 8 * 10 + 5  # several 8-block groups + tail
    a = sn.aes_ctr(key, 7, 123, n)
    b = sn.aes_ctr_portable(key, 7, 123, n)
    assert_same(a, b)
    out = np.zeros((5, 33), dtype=np.uint64)  # odd total, 2-D
    r = sn.aes_ctr_into(bytearray(key), 7, 123, out)
    assert r is out
    assert_same(out.reshape(-1), aes_ctr_reference(key, 7, 123, out.size))
    assert isinstance(sn.has_aesni(), bool)


@HSET
@given(st.binary(min_size=16, max_size=16), st.integers(0, M64 - 1),
       st.integers(0, M64 - 1), st.integers(0, 40))
def test_hypothesis_aes(key, nonce, counter, n):
    want = aes_ctr_reference(key, nonce, counter, n)
    assert_same(sn.aes_ctr(key, nonce, counter, n), want)
    assert_same(sn.aes_ctr_portable(key, nonce, counter, n), want)


# ----------------------------------------------------------- fixed point

def fx_encode_reference(v: float, f: int) -> int:
    return round(Fraction(v) * 2**f) % M64  # Fraction.__round__: ties to even


def fx_decode_reference(u: int, f: int) -> float:
    s = u - M64 if u >= 2**63 else u
    return float(Fraction(s, 2**f))  # correctly rounded


FX_SPECIAL = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1 / 3, -1 / 3, 5e-324, -5e-324,
              1e-300, 0.49999999999999994, 1.0000000000000002, 123456.789, -98765.4321]


@pytest.mark.parametrize("f", [0, 1, 8, 16, 32, 52, 62, 63])
def test_fx_encode_decode(rng, f):
    scale = 2.0**f
    vals = list(FX_SPECIAL)
    vals += list(rng.standard_normal(200) * rng.choice([1e-3, 1.0, 1e3, 1e6], 200))
    lim = 2.0**63 / scale
    vals += [np.nextafter(lim, 0), -np.nextafter(lim, 0), (lim / 2) + 0.5 / scale]
    vals = [v for v in vals if abs(v * scale) < 2.0**63]
    x = np.array(vals, dtype=np.float64)
    got = sn.fx_encode(x, f)
    assert got.dtype == np.uint64 and got.shape == x.shape
    assert got.tolist() == [fx_encode_reference(v, f) for v in vals]
    u = rand_u64(rng, 300)
    dec = sn.fx_decode(u, f)
    assert dec.dtype == np.float64 and dec.shape == u.shape
    assert dec.tolist() == [fx_decode_reference(int(v), f) for v in u.tolist()]


def test_fx_ties_to_even_and_shape():
    x = np.array([[0.5, 1.5, 2.5], [-0.5, -1.5, -2.5]])
    got = sn.fx_encode(x, 0)
    assert got.shape == (2, 3)
    assert got.view(np.int64).tolist() == [[0, 2, 2], [0, -2, -2]]
    assert sn.fx_decode(got, 0).tolist() == [[0.0, 2.0, 2.0], [0.0, -2.0, -2.0]]
    assert sn.fx_encode(np.zeros(0), 16).shape == (0,)


@HSET
@given(st.integers(0, 63), st.data())
def test_hypothesis_fx_roundtrip(f, data):
    bound = 2.0**63 / 2.0**f
    x = data.draw(st.floats(min_value=-bound, max_value=bound, exclude_min=True,
                            exclude_max=True, allow_nan=False, allow_infinity=False))
    enc = sn.fx_encode(np.array([x]), f)
    assert enc.tolist() == [fx_encode_reference(x, f)]
    assert sn.fx_decode(enc, f).tolist() == [fx_decode_reference(int(enc[0]), f)]


@pytest.mark.parametrize(
    "bad, what",
    [(float("nan"), "NaN"), (float("inf"), "infinite"), (float("-inf"), "infinite"),
     (2.0**47, "out of range"), (-(2.0**47), "out of range"), (1e300, "out of range")],
)
def test_fx_encode_rejects(bad, what):
    x = np.array([1.0, 2.0, 3.0, bad, float("nan")])
    with pytest.raises(ValueError) as e:
        sn.fx_encode(x, 16)  # 2^47 * 2^16 = 2^63: just out of range
    msg = str(e.value)
    assert "fx_encode" in msg and "x[3]" in msg and what in msg
    assert repr(bad) in msg
    x2 = np.zeros((2, 3))
    x2[1, 2] = bad
    with pytest.raises(ValueError, match=r"x\[\(1, 2\)\]"):
        sn.fx_encode(x2, 16)


def test_fx_encode_limits():
    # largest representable magnitudes are accepted
    x = np.array([np.nextafter(2.0**47, 0), -np.nextafter(2.0**47, 0)])
    got = sn.fx_encode(x, 16)
    assert got.tolist() == [fx_encode_reference(v, 16) for v in x.tolist()]
    with pytest.raises(ValueError, match="frac_bits"):
        sn.fx_encode(x, 64)
    with pytest.raises(ValueError, match="frac_bits"):
        sn.fx_decode(np.zeros(3, np.uint64), -1)
    with pytest.raises(TypeError, match="x has dtype float32"):
        sn.fx_encode(x.astype(np.float32), 16)


# ------------------------------------------------------------ validation

def test_wrong_dtype_messages():
    a = np.zeros(4, dtype=np.uint64)
    with pytest.raises(TypeError, match=r"add: b has dtype int64, expected uint64"):
        sn.add(a, a.astype(np.int64))
    with pytest.raises(TypeError, match=r"cross3: yb has dtype float64"):
        sn.cross3(a, a, a, a.astype(np.float64))
    with pytest.raises(TypeError, match=r"mul: a must be a numpy.ndarray .* got list"):
        sn.mul([1, 2, 3, 4], a)
    with pytest.raises(TypeError, match=r"matmul: B has dtype uint32"):
        sn.matmul(a.reshape(2, 2), a.reshape(2, 2).astype(np.uint32))
    with pytest.raises(TypeError, match=r"fx_decode: u has dtype"):
        sn.fx_decode(np.zeros(3), 8)
    with pytest.raises(TypeError, match=r"add: a has dtype >u8"):
        sn.add(a.astype(">u8"), a)


def test_non_contiguous_messages():
    a = np.zeros((6, 6), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"sub: b with shape \(6, 3\) is not C-contiguous"):
        sn.sub(a[:, ::2].copy(), a[:, ::2])
    with pytest.raises(ValueError, match=r"matmul: A .* is not C-contiguous"):
        sn.matmul(np.asfortranarray(a), a)
    with pytest.raises(ValueError, match=r"and_cross3: xa .* is not C-contiguous"):
        sn.and_cross3(a.T, a, a, a)
    with pytest.raises(ValueError, match=r"fx_encode: x .* is not C-contiguous"):
        sn.fx_encode(np.zeros((4, 4))[::2], 8)


def test_shape_mismatch_messages():
    x = np.zeros((3, 5), dtype=np.uint64)
    y = np.zeros((3, 4), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"cross3: ya has shape \(3, 4\) but xa has shape \(3, 5\)"):
        sn.cross3(x, x, y, x)
    with pytest.raises(ValueError, match=r"cross3: zero has shape \(3, 4\) but xa has shape \(3, 5\)"):
        sn.cross3(x, x, x, x, zero=y)
    with pytest.raises(ValueError, match=r"add: b has shape \(15,\) but a has shape \(3, 5\)"):
        sn.add(x, x.reshape(-1))
    with pytest.raises(ValueError, match=r"cross2: out has shape \(3, 4\)"):
        sn.cross2(x, x, x, x, out=y)
    with pytest.raises(TypeError, match=r"neg: out has dtype int64"):
        sn.neg(x, out=x.astype(np.int64))
    ro = x.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"shl: out is read-only"):
        sn.shl(x, 1, out=ro)


def test_gemm_shape_messages():
    A = np.zeros((3, 5), dtype=np.uint64)
    B = np.zeros((4, 2), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: A has shape \(3, 5\) but B has shape \(4, 2\)"):
        sn.matmul(A, B)
    with pytest.raises(ValueError, match=r"matmul: A must be 2-D, got shape \(15,\)"):
        sn.matmul(A.reshape(-1), B)
    B5 = np.zeros((5, 2), dtype=np.uint64)
    with pytest.raises(ValueError, match=r"matmul_cross3: XB has shape \(3, 4\) but XA has shape \(3, 5\)"):
        sn.matmul_cross3(A, np.zeros((3, 4), np.uint64), B5, B5)
    with pytest.raises(ValueError, match=r"matmul_cross2: YB has shape \(4, 2\) but YA has shape \(5, 2\)"):
        sn.matmul_cross2(A, A, B5, B)
    with pytest.raises(ValueError, match=r"matmul_cross3: zero has shape \(2, 3\) but the product has shape \(3, 2\)"):
        sn.matmul_cross3(A, A, B5, B5, zero=np.zeros((2, 3), np.uint64))


def test_shift_and_int_argument_messages():
    a = np.zeros(3, dtype=np.uint64)
    for d in (-1, 64, 2**70):
        with pytest.raises(ValueError, match=r"sar: d must be in \[0, 64\)"):
            sn.sar(a, d)
    with pytest.raises(TypeError, match=r"shr: d must be an int, got float"):
        sn.shr(a, 1.0)
    assert sn.shl(np.ones(2, np.uint64), np.int64(3)).tolist() == [8, 8]


def test_aes_argument_messages():
    for bad in (b"", b"x" * 15, b"x" * 17, b"x" * 32):
        with pytest.raises(ValueError, match=rf"aes_ctr: key must be exactly 16 bytes, got {len(bad)}"):
            sn.aes_ctr(bad, 0, 0, 4)
    with pytest.raises(TypeError, match=r"aes_ctr_portable: key must be bytes, got str"):
        sn.aes_ctr_portable("0123456789abcdef", 0, 0, 4)
    with pytest.raises(ValueError, match=r"aes_ctr: nonce must be in \[0, 2\*\*64\), got -1"):
        sn.aes_ctr(bytes(16), -1, 0, 4)
    with pytest.raises(ValueError, match=r"aes_ctr: counter must be in \[0, 2\*\*64\)"):
        sn.aes_ctr(bytes(16), 0, 2**64, 4)
    with pytest.raises(ValueError, match=r"aes_ctr: n must be in"):
        sn.aes_ctr(bytes(16), 0, 0, -1)
    with pytest.raises(TypeError, match=r"aes_ctr_into: out has dtype int64"):
        sn.aes_ctr_into(bytes(16), 0, 0, np.zeros(4, np.int64))


def test_build_info():
    info = sn.build_info()
    for key in ("compiler", "flags", "arch", "aesni_compiled", "avx2_compiled", "avx512_compiled"):
        assert key in info
    assert isinstance(info["aesni_compiled"], bool)
    assert info["aesni_runtime"] == sn.has_aesni()
    if sn.has_aesni():
        assert info["aesni_compiled"]


# -------------------------------------------------------------- the GIL

def _ticks_during(call) -> tuple[float, float, float, list[float]]:
    """Run call() in this thread while a Python thread records timestamps.

    Returns (t_start, t_end, elapsed, ticks).  The ticker needs the GIL for
    every tick, so if call() held the GIL no tick could happen inside it.
    """
    ticks: list[float] = []
    stop = threading.Event()
    started = threading.Event()

    def ticker():
        started.set()
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    th = threading.Thread(target=ticker, daemon=True)
    th.start()
    started.wait()
    time.sleep(0.01)
    t0 = time.perf_counter()
    call()
    t1 = time.perf_counter()
    stop.set()
    th.join()
    return t0, t1, t1 - t0, ticks


def _calibrated(make_call, sizes, target=0.15):
    """First size whose single call takes >= target seconds (or the last)."""
    for size in sizes:
        call = make_call(size)
        t = time.perf_counter()
        call()
        if time.perf_counter() - t >= target:
            break
    return call


@pytest.mark.parametrize("kernel", ["matmul_cross3", "aes_ctr_portable"])
def test_gil_is_released(kernel):
    rng = np.random.default_rng(5)
    if kernel == "matmul_cross3":
        def make(s):
            X = rand_u64(rng, (s, s))
            return lambda: sn.matmul_cross3(X, X, X, X)
        call = _calibrated(make, [256, 512, 768, 1024, 1536])
    else:
        def make(s):
            return lambda: sn.aes_ctr_portable(bytes(16), 1, 2, s)
        call = _calibrated(make, [10**5, 10**6, 2 * 10**6, 4 * 10**6, 8 * 10**6])

    t0, t1, elapsed, ticks = _ticks_during(call)
    # Look at the middle of the call only (the edges may overlap the GIL
    # hand-over); a kernel holding the GIL would allow no tick in there.
    lo, hi = t0 + 0.2 * elapsed, t1 - 0.2 * elapsed
    inside = [t for t in ticks if lo <= t <= hi]
    assert len(inside) >= 3, (
        f"{kernel}: only {len(inside)} ticks of a Python thread during a {elapsed * 1e3:.0f} ms "
        "kernel call -- the GIL does not seem to be released"
    )
