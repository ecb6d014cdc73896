"""Softmax over the last axis for any protocol (layer 3), mixed into
protocols.fxfuncs.FxFunctions. Imports mpcore, protocols.base, .bounds.
Fixed point as in protocols.fxfuncs; products through `fxprod` (rounded
without bias; one round per batch in rep3). Rounds below are rep3's.

  softmax(x, bits=None, minus=None, scale=None): over the last axis.
    1. One ltz_mul over 3 k(k-1)/2 differences per row: x_i - x_j (i < j:
       who beats whom, as in the pairwise argmax) and u + B for u = x_j - x_i
       and u = x_i - x_j, B = 16 (fx): the products give the clamped
       differences cd(a, j) = max(x_j - x_a, -B) = u - [u + B < 0](u + B).
       bits=k (|x| < 2^(k-1)) -> the comparisons get k + 2 bits.
    2. The one-hot m of the row maximum (ties to the lowest index): eqz of
       the lose counts (2 rounds).
    3. w_j = sum_a m_a cd(a, j) / 16 = max(x_j - max x, -B) / 16 in [-1, 0]:
       one dot, truncated by 4 bits in the same round.
    4. e = p(w)^16 in [e^-16, 1] (the maximum's term is 1, so s = sum e is
       in [1, k]), p the minimax quartic of EXP4_COEFFS (relative error
       8.4e-5; 0.13 % after the 4 squarings): its leading coefficient is
       forced to 2^-5, so round 1 gives w^2, w^2 / 32 (a truncation by
       f + 5), c3 w and c1 w, round 2 w^2 (c2 + c3 w + w^2 / 32): 2 + 4
       rounds (the exp op's cubic and 5 squarings take 7). The last
       squaring also gives e with 8 fractional bits, whose sum s8 is s to
       within k 2^-8. (Protocols without a one-round multi-shift fxprod use
       the exp op's cubic on w / 2 and 5 squarings.)
    5. Division by s: N = e y0 with y0 = a - b s8, the linear minimax
       approximation of 1/s on [1, k] (one round; |1 - s y0| <= e0, 0.52
       for k = 10), then N <- N (2 - sum N) (one round each): sum N = s y0
       prod(...) -> 1 quadratically (relative error e0^(2^t) after t rounds,
       t = 4 for k = 10 for 2^-14), so N -> e / s. The magnitudes truncated
       stay below 2^34 (failure probability below 2^-30 per element). For
       k > 16, and for protocols whose fxprod is not one round for several
       shifts (`fused_fxprod` False: the second truncation would be a
       second round), the initial guess is a constant c ~ 2 / (1 + k)
       applied in the last squaring (y^2 c truncated once; more rounds).
       Error: the exp's (above), relative 2^-14 from the division, a few
       ulp from the truncations: |softmax - exact| < 0.01 (5e-4 measured at
       k = 10).
    With minus (a sharing of x's shape) and scale (a public real), the
    result is (softmax(x) - minus) * scale: if scale = 2^-j (e.g. 1/n for
    a batch of n = 128) the last round's truncation by f + j absorbs it,
    otherwise one more round (a lin term; the scale gets >= 12 significant
    bits): the cross-entropy gradient (softmax(Z) - Y) / n of training.
                                 ltz_mul 6 + 2 + 1 + 6 + 1 + t = 20 (k = 10)
    (19 with bits <= 31.) Compared with max-subtraction by a tournament (28
    rounds), exp with a clamp (22) and a Newton reciprocal with a guessed
    range (18): 20 rounds instead of 70, as accurate.
"""
import functools

import numpy as np

from mpcore.ring import DTYPE

from .base import FxTerm, _declared, _Like, _total, op
from .bounds import (count_bits, eqz_cost, kw_bits, lose_matrix, ltz_mul_cost, pair_index,
                     plus_bits)

EXP_SQUARINGS = 5               # exp: (polynomial of x / 32)^32
# softmax's exp with a one-round fxprod: p(w)^16, w = z / 16 in [-1, 0], p the
# minimax (relative error) quartic whose leading coefficient is forced to 2^-5
# (so w^4 / 32 is a truncation by f + 5 of w^2, no coefficient product):
# relative error 8.4e-5, 0.13 % after the 4 squarings, 2 rounds for p
EXP4_COEFFS = (1.00008418, 1.0015826, 0.50438092, 0.16622211)   # c0..c3; c4 = 1/32
EXP4_SQUARINGS = 4
SOFTMAX_CLAMP = 16.0            # x - max x is clamped below at -16 (e^-16 < 2^-16)
SOFTMAX_TARGET = 2.0 ** -14     # Goldschmidt: relative error of the division
S8_BITS = 8                     # the sum s for the initial guess: 8 fractional bits
B_BITS = 10                     # the initial guess's slope: 10 fractional bits


def const_bits(k):
    """Fractional bits of the constant initial guess c ~ 2 / (1 + k), applied
    in the last squaring (y^2 c truncated by f + const_bits): c has about 4
    significant bits (e0 within 0.03 of the best (k-1)/(k+1)) and the value
    truncated stays below 2^36."""
    return max(int(k), 1).bit_length() + 3


@functools.lru_cache(maxsize=None)
def goldschmidt_plan(k, linear=True):
    """(a_enc, b_enc, t) for the normalisation by s = sum e in [1, k] (1 %
    margin): y0 = a - b s8 is the linear minimax approximation of 1/s (s8:
    s with S8_BITS fractional bits), a encoded with S8_BITS + B_BITS
    fractional bits, b with B_BITS; e0 = max |1 - s y0| over the range
    (with s8 off by up to k units of 2^-S8_BITS), and t rounds give
    e0^(2^t) <= SOFTMAX_TARGET. If that e0 exceeds 3/4 (many classes), the
    constant guess c = 2 / (lo + hi) instead (b_enc = 0, a_enc = c with
    const_bits(k) fractional bits), slower but valid for large k."""
    lo, hi = 0.99, 1.01 * max(int(k), 1)
    if not linear:
        return _constant_plan(k, lo, hi)
    den = 2.0 * (hi + lo) ** 2 - (hi - lo) ** 2
    a, b = 8.0 * (hi + lo) / den, 8.0 / den
    a_enc = int(round(a * 2.0 ** (S8_BITS + B_BITS)))
    b_enc = int(round(b * 2.0 ** B_BITS))
    grid = np.linspace(lo, hi, 4001)
    slack = int(k) * 2.0 ** -S8_BITS
    e0 = 0.0
    for s8 in (grid - slack, grid + slack):
        y0 = a_enc * 2.0 ** -(S8_BITS + B_BITS) - b_enc * 2.0 ** -B_BITS * s8
        e0 = max(e0, float(np.abs(1 - grid * y0).max()))
    if e0 > 0.75:             # many classes: the constant guess c = 2 / (lo + hi)
        return _constant_plan(k, lo, hi)
    return a_enc, b_enc, _iterations(e0)


def _iterations(e0):
    """Smallest t >= 1 with e0^(2^t) <= SOFTMAX_TARGET."""
    return max(1, int(np.ceil(np.log2(np.log(SOFTMAX_TARGET) / np.log(max(e0, 1e-300))) - 1e-9)))


def _constant_plan(k, lo, hi):
    """The constant initial guess c = a_enc / 2^const_bits(k) ~ 2 / (lo + hi)."""
    cb = const_bits(k)
    a_enc = int(round(2.0 / (lo + hi) * 2.0 ** cb))
    e0 = max(abs(1 - a_enc * 2.0 ** -cb * lo), abs(1 - a_enc * 2.0 ** -cb * hi))
    if e0 >= 1:
        raise ValueError(f"softmax: {k} classes are too many for the division's range")
    return a_enc, 0, _iterations(e0)


def _fxprod_cost(self, *terms):
    return _declared(self, "fxprod", list(terms))


def _T(kind, x, y=None):
    """A stand-in FxTerm for a declared cost."""
    return FxTerm(kind, _Like(x), None if y is None else _Like(y))


def _exp_tail_cost(self, s, last_terms=1):
    last = [_T("mul", s, s)] * last_terms
    return _total(self, [_fxprod_cost(self, _T("mul", s, s), _T("lin", s)),
                         _fxprod_cost(self, _T("mul", s, s))]
                  + [_fxprod_cost(self, _T("mul", s, s))] * (EXP_SQUARINGS - 1)
                  + [_fxprod_cost(self, *last)])


def _exp_tail4_cost(self, s, last_terms=1):
    return _total(self, [_fxprod_cost(self, _T("mul", s, s), _T("mul", s, s), _T("lin", s),
                                      _T("lin", s)),
                         _fxprod_cost(self, _T("mul", s, s))]
                  + [_fxprod_cost(self, _T("mul", s, s))] * (EXP4_SQUARINGS - 1)
                  + [_fxprod_cost(self, *[_T("mul", s, s)] * last_terms)])


_SOFTMAX_COSTS = {}


def _softmax_cost(self, x, bits=None, minus=None, scale=None):
    """Declared cost of softmax (memoised: it depends only on the protocol
    class, the shape, bits, whether minus is given and the scale)."""
    key = (type(self), tuple(x.shape), bits, minus is None, scale)
    cost = _SOFTMAX_COSTS.get(key)
    if cost is None:
        cost = _SOFTMAX_COSTS[key] = _softmax_cost_of(self, x, bits, minus, scale)
    return cost


def _softmax_cost_of(self, x, bits=None, minus=None, scale=None):
    s = tuple(x.shape)
    lead, k = s[:-1], s[-1]
    fin = [] if (minus is None and scale is None) else [_fxprod_cost(self, _T("lin", s))]
    if k == 1:
        return _total(self, fin)
    P = k * (k - 1) // 2
    _, b_enc, t = goldschmidt_plan(k, self.fused_fxprod)
    r = lead + (1,)
    costs = [ltz_mul_cost(self, lead + (3 * P,), plus_bits(bits, 2)),
             eqz_cost(self, lead + (k,), count_bits(k)),
             _fxprod_cost(self, _T("dot", lead + (1, k), s + (k,))),
             (_exp_tail4_cost if self.fused_fxprod else _exp_tail_cost)(self, s, 2 if b_enc else 1)]
    if b_enc:
        costs.append(_fxprod_cost(self, _T("mul", s, r)))
    costs += [_fxprod_cost(self, _T("mul", s, r))] * t
    if _pow2_exponent(scale) is None:
        costs += fin
    return _total(self, costs)


class SoftmaxFunction:
    """softmax, and the exp polynomial and squarings it shares with exp."""

    def _fxmul_r(self, x, y):
        """Fixed-point product, rounded: one fxprod term."""
        return self.fxprod([FxTerm("mul", x, y)])[0]

    def _exp_tail(self, z, last=None):
        """(1 + z + z^2 (1/2 + z/6))^(2^EXP_SQUARINGS) for fixed-point z. The
        last squaring's terms can be replaced: `last(y)` -> FxTerms of y."""
        zz, t = self.fxprod([FxTerm("mul", z, z),
                             FxTerm("lin", z, scale=self.fx_const(1.0 / 6.0))])
        w = self._fxmul_r(zz, self.add_public(t, self.fx_const(0.5)))
        y = self.add_public(self.add(z, w), self.fx_const(1.0))
        for _ in range(EXP_SQUARINGS - 1):
            y = self._fxmul_r(y, y)
        if last is None:
            return self._fxmul_r(y, y)
        return self.fxprod(last(y))

    def _exp_tail4(self, w, last=None):
        """p(w)^16 for fixed-point w in [-1, 0] (EXP4_COEFFS): e^(16 w) within
        0.13 %. Round 1: w^2, w^2 / 32, c3 w, c1 w (one fxprod, two shifts:
        rep3 only); round 2: w^2 (c2 + c3 w + w^2 / 32); then 4 squarings."""
        f = self.fx.frac_bits
        c0, c1, c2, c3 = EXP4_COEFFS
        w2, q, a3, a1 = self.fxprod([FxTerm("mul", w, w), FxTerm("mul", w, w, shift=f + 5),
                                     FxTerm("lin", w, scale=self.fx_const(c3)),
                                     FxTerm("lin", w, scale=self.fx_const(c1))])
        t = self._fxmul_r(w2, self.add_public(self.add(a3, q), self.fx_const(c2)))
        y = self.add_public(self.add(a1, t), self.fx_const(c0))
        for _ in range(EXP4_SQUARINGS - 1):
            y = self._fxmul_r(y, y)
        return self._fxmul_r(y, y) if last is None else self.fxprod(last(y))

    @op("softmax", _softmax_cost)
    def softmax(self, x, bits=None, minus=None, scale=None):
        """Softmax over the last axis of fixed-point logits; with `minus`
        and `scale`: (softmax(x) - minus) * scale (module docstring)."""
        self._mine(x, "softmax")
        fx = self.fx
        s = x.shape
        k = s[-1]
        if minus is not None:
            self._mine(minus, "softmax", "minus")
        if k == 1:
            one = self.public(np.broadcast_to(self.fx_const(1.0), s).copy())
            if minus is None and scale is None:
                return one
            return self._scaled_diff(one, minus, scale)
        M, offset, gather = _softmax_layout(k, int(self.fx_const(SOFTMAX_CLAMP)))
        P = k * (k - 1) // 2
        # [x_i - x_j | x_j - x_i + B | x_i - x_j + B] (i < j): a public linear map
        D = self.add_public(self._linear_map(x, M), offset)
        c, pr = self.ltz_mul(D, D, **kw_bits(plus_bits(bits, 2)))
        lose = self.add_public(self._linear_map(c[..., :P], lose_matrix(k)),
                               np.arange(k, dtype=DTYPE))
        m = self.eqz(lose, bits=count_bits(k))               # one-hot of the maximum
        # clamped differences cd(a, j) = max(x_j - x_a, -B) = (u - B) - [u < 0] u, as
        # CD[..., j, a] (zero on the diagonal): one gather from [cd1 | cd2 | 0]
        lead = s[:-1]
        CD = []
        for dp, pp in zip(D.parts, pr.parts):
            ext = np.empty(lead + (2 * P + 1,), DTYPE)
            ext[..., :P] = (0 - dp[..., :P]) - pp[..., P:2 * P]        # a = i, target j
            ext[..., P:2 * P] = dp[..., :P] - pp[..., 2 * P:]          # a = j, target i
            ext[..., 2 * P] = 0
            CD.append(ext[..., gather].reshape(lead + (k, k)))
        fused = self.fused_fxprod
        n = EXP4_SQUARINGS if fused else EXP_SQUARINGS
        tail = self._exp_tail4 if fused else self._exp_tail
        z = self.fxprod([FxTerm("dot", self._expand(m, -2), self.wrap(CD),
                                shift=n)])[0]                 # max(x - max x, -B) / 2^n
        f = fx.frac_bits
        a_enc, b_enc, t = goldschmidt_plan(k, self.fused_fxprod)
        if b_enc:
            # the last squaring gives e and e with S8_BITS fractional bits (one
            # fxprod of two shifts: one round in rep3); N = e (a - b s8)
            e, e8 = tail(z, lambda y: [FxTerm("mul", y, y),
                                       FxTerm("mul", y, y, shift=2 * f - S8_BITS)])
            s8 = self._expand(self.sum(e8, axis=-1))
            N = self.fxprod([FxTerm("mul", e, s8, shift=S8_BITS + B_BITS, scale=_ring(-b_enc),
                                    add=self.mul_public(e, _ring(a_enc)))])[0]
        else:
            # constant guess c, applied in the last squaring: N = c e
            cb = const_bits(k)
            N, = tail(z, lambda y: [FxTerm("mul", y, y, shift=f + cb, scale=_ring(a_enc))])
        two = self.fx_const(2.0)
        for _ in range(t - 1):                                # N <- N (2 - sum N)
            F = self.add_public(self.neg(self._expand(self.sum(N, axis=-1))), two)
            N = self._fxmul_r(N, F)
        F = self.add_public(self.neg(self._expand(self.sum(N, axis=-1))), two)
        j = _pow2_exponent(scale)
        if minus is None and scale is None:
            return self._fxmul_r(N, F)
        if j is not None:                 # scale = 2^-j: one truncation by f + j
            add = None if minus is None else self.mul_public(minus, _neg_pow2(f))
            return self.fxprod([FxTerm("mul", N, F, shift=f + j, add=add)])[0]
        return self._scaled_diff(self._fxmul_r(N, F), minus, scale)

    def _scaled_diff(self, v, minus, scale):
        """(v - minus) * scale, one truncation (small magnitudes: v, minus <= 1).
        The scale is encoded with f + q fractional bits, q <= 16 chosen so it
        keeps at least 12 significant bits (a small scale such as lr / n)."""
        f = self.fx.frac_bits
        d = v if minus is None else self.sub(v, minus)
        sc = 1.0 if scale is None else float(scale)
        q = 0
        while q < 16 and abs(sc) * 2.0 ** (f + q) < 2.0 ** 12:
            q += 1
        enc = np.array(int(round(sc * 2.0 ** (f + q)))).astype(np.int64).view(DTYPE)
        return self.fxprod([FxTerm("lin", d, scale=enc, shift=f + q)])[0]


def _ring(v):
    return np.array(int(v)).astype(np.int64).view(DTYPE)


@functools.lru_cache(maxsize=None)
def _softmax_layout(k, B):
    """(M, offset, gather) for softmax over k classes: x @ M + offset gives
    [x_i - x_j | x_j - x_i + B | x_i - x_j + B] over the pairs i < j; gather
    picks CD[j, a] (row-major k x k) from [cd(i -> j) | cd(j -> i) | 0]."""
    I, J = pair_index(k)
    P = len(I)
    M = np.zeros((k, 3 * P), dtype=np.int64)
    cols = np.arange(P)
    M[I, cols], M[J, cols] = 1, -1
    M[J, P + cols], M[I, P + cols] = 1, -1
    M[I, 2 * P + cols], M[J, 2 * P + cols] = 1, -1
    offset = np.zeros(3 * P, dtype=np.int64)
    offset[P:] = B
    gather = np.full((k, k), 2 * P, dtype=np.int64)
    gather[J, I] = cols                  # target j, candidate a = i
    gather[I, J] = P + cols              # target i, candidate a = j
    return M.view(DTYPE), offset.view(DTYPE), gather.reshape(-1)


def _pow2_exponent(scale):
    """j if scale == 2^-j (j >= 0), else None."""
    if scale is None:
        return None
    v = float(scale)
    if v <= 0 or v > 1:
        return None
    j = int(round(-np.log2(v)))
    return j if 2.0 ** -j == v else None


def _neg_pow2(f):
    return (-np.int64(1 << f)).astype(np.int64).view(DTYPE)
