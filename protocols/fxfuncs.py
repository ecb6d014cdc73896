"""Fixed-point non-linear functions for any protocol (layer 3), mixed into
protocols.nonlinear.Nonlinear. Imports mpcore, protocols.base, .bounds,
.softmax (which holds softmax and the exp core it shares with exp).

Fixed point is proto.fx (f = frac_bits = 16). Truncated products go through
`fxprod` (protocols.base.FxTerm): ONE round per batch of products in rep3,
mul + trunc elsewhere; products are rounded without bias
(Protocol.round_offset: rep3's truncation is floor or one less, mean -1
unit, so one unit is added first: stochastic rounding). Comparisons take
`bits` (see nonlinear.py). Rounds below are rep3's with bits=None (ltz / ltz_mul 6 rounds; 5 for
bits <= 32).

  sigmoid(x): piecewise-linear interpolation on 8 breakpoints
    (+-0.75, +-1.6875, +-2.75, +-4.578125; values fitted by a minimax LP),
    constant outside. f(x) = v_0 + sum_k c_k relu(x - b_k): one ltz_mul
    (8 per element), one truncation. Max error, any real x:
    0.0052 (approximation) + 2^-15 (fixed point) < 0.0055.          7
  exp(x): x is clamped to [-16, 8]; z = x / 32; y = 1 + z + z^2 (1/2 + z/6);
    5 squarings: y^32. Error (measured in a fixed-point model with the
    truncation's +-1 ulp): |y - e^x| <= 0.008 e^x + 0.0025 on [-16, 8]
    (relative <= 0.6 % on [-2, 8], absolute <= 0.002 for x <= 0). Beyond 8
    the result is e^8. Truncation failure: the last squaring truncates
    about e^x 2^32, failing with probability about e^x 2^-32 per element
    (7e-7 at x = 8, below 2^-32 for x <= 0).   clamp 6 + 1 + 2 + 5 = 14
  reciprocal(x, lo=2^-6, hi=2^12): x > 0. Initial guess y0 = 2 / (3 2^j)
    for x in [2^j, 2^(j+1)) from one batched ltz against the powers of two
    in [lo, hi] (so |1 - x y0| <= 1/3), then 3 Newton steps
    y <- y (2 - x y) (two rounds each). For x in [lo, hi]:
    |y - 1/x| <= 1e-3 / x + 2^-14. Below lo convergence is slow
    (inaccurate); above about 1.5 hi it diverges.                    12
  div(x, y, lo, hi) = x * reciprocal(y)                               13
  softmax(x, bits=None, minus=None, scale=None): protocols.softmax (mixed in
    here): 20 rounds for k = 10 (70 with the former tournament, clamped exp
    and Newton reciprocal).
"""
import numpy as np

from mpcore.ring import DTYPE

from .base import FxTerm, _declared, _total, op
from .bounds import kw_bits, ltz_cost, ltz_mul_cost, plus_bits
from .softmax import EXP_SQUARINGS, SoftmaxFunction, _exp_tail_cost, _fxprod_cost, _T

# ---- constants -----------------------------------------------------------------------------
SIGMOID_BREAKS = np.array([-4.578125, -2.75, -1.6875, -0.75, 0.75, 1.6875, 2.75, 4.578125])
SIGMOID_VALUES = np.array([0.005008, 0.054927, 0.150945, 0.315661,
                           0.684314, 0.849055, 0.945073, 0.994992])
EXP_RANGE = (-16.0, 8.0)
RECIPROCAL_ITERATIONS = 3


def _sigmoid_coefficients(fx):
    """(encoded breakpoints, encoded slope changes summing exactly to 0, v0)."""
    b, v = SIGMOID_BREAKS, SIGMOID_VALUES
    slopes = np.concatenate([[0.0], np.diff(v) / np.diff(b), [0.0]])
    c = fx.encode(np.diff(slopes)).view(np.int64).copy()
    c[-1] -= c.sum()                       # the total slope beyond the last break is 0
    return fx.encode(b), c.view(DTYPE), fx.encode(v[0])


def _reciprocal_exponents(lo, hi):
    if not 0 < lo < hi:
        raise ValueError(f"reciprocal: need 0 < lo < hi, got lo={lo}, hi={hi}")
    return int(np.floor(np.log2(lo))), int(np.ceil(np.log2(hi))) - 1


# ---- declared costs ------------------------------------------------------------------------
def _sigmoid_cost(self, x, bits=None):
    k = tuple(x.shape) + (len(SIGMOID_BREAKS),)
    return ltz_mul_cost(self, k, plus_bits(bits)) + _fxprod_cost(self, _T("lin", tuple(x.shape)))


def _clamp_cost(self, shape, lo, hi, bits):
    return _declared(self, "clamp", tuple(shape), lo, hi, **kw_bits(bits))


def _exp_cost(self, x, lo=EXP_RANGE[0], hi=EXP_RANGE[1], bits=None):
    s = tuple(x.shape)
    return (_clamp_cost(self, s, 0 if lo is not None else None, 0 if hi is not None else None, bits)
            + _fxprod_cost(self, _T("lin", s)) + _exp_tail_cost(self, s))


def _reciprocal_cost(self, x, lo=2.0 ** -6, hi=2.0 ** 12, bits=None):
    jlo, jhi = _reciprocal_exponents(lo, hi)
    s = tuple(x.shape)
    costs = [ltz_cost(self, s + (jhi - jlo,), plus_bits(bits))] if jhi > jlo else []
    return _total(self, costs + [_fxprod_cost(self, _T("mul", s, s))] * (2 * RECIPROCAL_ITERATIONS))


def _div_cost(self, x, y, lo=2.0 ** -6, hi=2.0 ** 12, bits=None):
    s = tuple(np.broadcast_shapes(tuple(x.shape), tuple(y.shape)))
    return _reciprocal_cost(self, y, lo, hi, bits) + _fxprod_cost(self, _T("mul", s, s))


# ---- the mixin -----------------------------------------------------------------------------
class FxFunctions(SoftmaxFunction):
    @op("sigmoid", _sigmoid_cost)
    def sigmoid(self, x, bits=None):
        """Piecewise-linear sigmoid of a fixed-point x (error < 0.0055)."""
        self._mine(x, "sigmoid")
        breaks, slopes, v0 = _sigmoid_coefficients(self.fx)
        shape = x.shape + (len(breaks),)
        d = self.add_public(self._expand(x).broadcast_to(shape), -breaks)   # x - b_k
        r = self.sub(d, self.ltz_mul(d, d, **kw_bits(plus_bits(bits)))[1])  # relu(x - b_k)
        acc = self.sum(self.mul_public(r, slopes), axis=-1)
        acc = self.fxprod([FxTerm("lin", acc)])[0]
        return self.add_public(acc, v0)

    @op("exp", _exp_cost)
    def exp(self, x, lo=EXP_RANGE[0], hi=EXP_RANGE[1], bits=None):
        """e^x of a fixed-point x, clamped to [lo, hi] (default [-16, 8]; None
        drops a bound) and computed as (1 + z + z^2/2 + z^3/6)^32, z = x/32."""
        self._mine(x, "exp")
        fx, n = self.fx, EXP_SQUARINGS
        xc = self.clamp(x, None if lo is None else fx.encode(lo),
                        None if hi is None else fx.encode(hi), **kw_bits(bits))
        z = self.fxprod([FxTerm("lin", xc, shift=n)])[0]                    # x / 2^n
        return self._exp_tail(z)

    @op("reciprocal", _reciprocal_cost)
    def reciprocal(self, x, lo=2.0 ** -6, hi=2.0 ** 12, bits=None):
        """1/x for a fixed-point x in [lo, hi] (x > 0): power-of-two initial
        guess and 3 Newton steps (|y - 1/x| <= 1e-3/x + 2^-14)."""
        self._mine(x, "reciprocal")
        fx = self.fx
        jlo, jhi = _reciprocal_exponents(lo, hi)
        js = np.arange(jlo, jhi + 1)
        guess = fx.encode(2.0 / (3.0 * 2.0 ** js)).view(np.int64)
        if jhi > jlo:
            thr = fx.encode(2.0 ** js[1:])
            below = self.ltz(self.add_public(self._expand(x).broadcast_to(
                x.shape + (len(thr),)), -thr), **kw_bits(plus_bits(bits)))    # [x < 2^j]
            step = np.diff(guess)                                           # guess_j - guess_{j-1}
            # y0 = guess_jhi - sum_j [x < 2^j] (guess_j - guess_{j-1})
            y = self.add_public(self.neg(self.sum(self.mul_public(
                below, step.view(DTYPE)), axis=-1)), np.array(guess[-1]).view(DTYPE))
        else:
            y = self.public(np.broadcast_to(guess[:1].view(DTYPE), x.shape).copy())
        two = self.fx_const(2.0)
        for _ in range(RECIPROCAL_ITERATIONS):
            e = self.add_public(self.neg(self._fxmul_r(x, y)), two)
            y = self._fxmul_r(y, e)
        return y

    @op("div", _div_cost)
    def div(self, x, y, lo=2.0 ** -6, hi=2.0 ** 12, bits=None):
        """x / y for fixed-point x and y in [lo, hi]."""
        return self._fxmul_r(x, self.reciprocal(y, lo, hi, **kw_bits(bits)))
