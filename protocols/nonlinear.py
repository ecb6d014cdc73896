"""Non-linear functions on the protocol interface, for any protocol (layer 3).
Imports mpcore, protocols.base, .bounds, .argmax, .fxfuncs.

`Nonlinear` is a mixin: a protocol class that provides the primitives
`ltz(x, bits=None)` ([x < 0] as an arithmetic 0/1 sharing, exact over the
signed 64-bit ring), `eqz(x, bits=None)` ([x == 0]), plus the arithmetic
ops (mul, mul_many, dot, trunc, fxprod, and the local ops of
protocols.base), gets every function below as an op with a declared cost.
The declared cost of each function is the sum of the declared costs of the
ops it calls (they run one after another), so a protocol that brings
cheaper primitives (rep3's one-round fxprod and fused ltz_mul) gets correct
declarations here for free; it may also override any of these methods.
The fixed-point functions (sigmoid, exp, reciprocal, div, softmax) live in
protocols.fxfuncs and are mixed in here.

Conventions. Comparisons return arithmetic 0/1 sharings (integers, not
fixed point). A "public" argument is a ring integer or an integer array (for
fixed-point reals pass `proto.fx.encode(v)`); either argument of lt / le /
gt / ge / eq / ne may be public. Comparisons of x and y go through x - y,
so they are exact when x - y does not overflow the signed 64-bit range
(always true for fixed-point values and for |x|, |y| < 2^62). Nothing is
ever revealed.

Bounded inputs. Every comparison-based function takes `bits=None`; `bits=k`
promises |v| < 2^(k-1) for every input v (x, y, the public bounds, the
elements compared), so the differences it compares satisfy |d| < 2^k and
the primitives get `bits=k+1` (fewer rounds and bytes: rep3's ltz takes 5
rounds instead of 6 for k + 1 <= 33). Fixed-point values from in-range
inputs have k = fx.encoded_bits + 1 = 32. A broken promise gives wrong
results; bits=None is exact on the whole ring.

Functions (k = size of the last axis; rounds for rep3 with bits=None, where
ltz / eqz / ltz_mul take 6 rounds, 5 with bits <= 32):
  ltz_mul(x, y) -> ([x < 0], [x < 0] y): generic ltz then mul; rep3 fuses
    the product into the comparison's rounds.                        6
  drelu(x) = 1 - ltz(x)                                               6
  relu(x) = x * drelu(x) (rep3: one fused ltz_mul, 6)                 7
  lt, le, gt, ge (x, y); eq, ne (x, y)                                6
  select(c, a, b) = b + c (a - b), c secret 0/1                      1
  clamp(x, lo, hi): public bounds (either may be None); one ltz_mul of
    the two differences, the fixes summed locally                    6
  max(x), argmax(x) (index), argmax_onehot(x), method="tournament"
    (default, 7 rounds per level), "pairwise" (6 + 2) or "hybrid"
    (6 + 6 + 2 + 1): see protocols.argmax (mixed in here); ties go to the
    lowest index.
  onehot(index, n): eqz of index - j for j < n, one batch               6
  Fixed point: see protocols.fxfuncs.
"""
import numpy as np

from mpcore.kernels import native
from mpcore.shares import Shared

from .argmax import ArgmaxFunctions
from .base import _declared, op, ring_public
from .bounds import eqz_cost, kw_bits, ltz_cost, ltz_mul_cost, plus_bits
from .fxfuncs import EXP_RANGE, FxFunctions  # noqa: F401  (EXP_RANGE re-exported)


# ---- declared costs ------------------------------------------------------------------
def _shape(v):
    return tuple(v.shape) if isinstance(v, Shared) else tuple(np.shape(v))


def _bshape(*vs):
    return tuple(np.broadcast_shapes(*[_shape(v) for v in vs if v is not None]))


def _cmp_cost(self, x, y=None, bits=None):
    return ltz_cost(self, _bshape(x, y), plus_bits(bits))


def _eq_cost(self, x, y=None, bits=None):
    return eqz_cost(self, _bshape(x, y), plus_bits(bits))


def _select_cost(self, c, a, b):
    s = _bshape(c, a, b)
    return _declared(self, "mul", s, s)


def _clamp_cost(self, x, lo=None, hi=None, bits=None):
    s = _bshape(x, lo, hi)
    if lo is None and hi is None:
        return self.free()
    if lo is None or hi is None:
        return ltz_mul_cost(self, s, plus_bits(bits))
    return ltz_mul_cost(self, s + (2,), plus_bits(bits))


class Nonlinear(ArgmaxFunctions, FxFunctions):
    # ---- local helpers ----------------------------------------------------------------
    def _concat(self, values, axis=-1):
        return self.wrap(np.concatenate([np.asarray(v.parts[j]) for v in values], axis=axis)
                         for j in range(len(values[0].parts)))

    def _stack(self, values, axis=-1):
        return self.wrap(np.stack([np.asarray(v.parts[j]) for v in values], axis=axis)
                         for j in range(len(values[0].parts)))

    def _last(self, x, i):
        """x[..., i] keeping 0-d results 0-d (Shared indexing makes them 1-d)."""
        return self.wrap(np.array(p[..., i]) for p in x.parts)

    def _expand(self, x, axis=-1):
        return x._map(lambda p: np.expand_dims(p, axis))

    def _diff(self, x, y, name):
        """x - y where either (not both) may be public ring integers."""
        xs, ys = isinstance(x, Shared), isinstance(y, Shared)
        if xs and ys:
            return self.sub(x, y)
        if xs:
            return self.add_public(x, -ring_public(y, name))
        if ys:
            return self.add_public(self.neg(y), ring_public(x, name))
        raise TypeError(f"{name}: at least one argument must be a Shared value")

    def _one_minus(self, b):
        return self.add_public(self.neg(b), 1)

    def _linear_map(self, x, C):
        """x (..., P) times a public ring matrix C (P, m), slot by slot (local)."""
        lead, P = x.shape[:-1], x.shape[-1]
        C = np.ascontiguousarray(C)
        return self.wrap(native.matmul(np.ascontiguousarray(p.reshape(-1, P)), C)
                         .reshape(lead + (C.shape[1],)) for p in x.parts)

    # ---- comparisons ----------------------------------------------------------------------
    @op("ltz_mul", lambda self, x, y, bits=None: (ltz_cost(self, x.shape, bits)
                                                  + _declared(self, "mul", x.shape, x.shape)))
    def ltz_mul(self, x, y, bits=None):
        """([x < 0], [x < 0] * y) for y of x's shape (generic: ltz, then mul)."""
        b = self.ltz(x, **kw_bits(bits))
        return b, self.mul(b, y)

    @op("drelu", lambda self, x, bits=None: ltz_cost(self, x.shape, bits))
    def drelu(self, x, bits=None):
        """[x >= 0] (0/1)."""
        return self._one_minus(self.ltz(x, **kw_bits(bits)))

    @op("relu", lambda self, x, bits=None: (ltz_cost(self, x.shape, bits)
                                            + _declared(self, "mul", x.shape, x.shape)))
    def relu(self, x, bits=None):
        """max(x, 0) = x * (1 - ltz(x)); any scale (integer or fixed point).
        (rep3 overrides it with one fused ltz_mul.)"""
        return self.mul(x, self.drelu(x, **kw_bits(bits)))

    @op("lt", _cmp_cost)
    def lt(self, x, y, bits=None):
        """[x < y] (0/1)."""
        return self.ltz(self._diff(x, y, "lt"), **kw_bits(plus_bits(bits)))

    @op("gt", _cmp_cost)
    def gt(self, x, y, bits=None):
        """[x > y] (0/1)."""
        return self.ltz(self._diff(y, x, "gt"), **kw_bits(plus_bits(bits)))

    @op("le", _cmp_cost)
    def le(self, x, y, bits=None):
        """[x <= y] = 1 - [y < x]."""
        return self._one_minus(self.ltz(self._diff(y, x, "le"), **kw_bits(plus_bits(bits))))

    @op("ge", _cmp_cost)
    def ge(self, x, y, bits=None):
        """[x >= y] = 1 - [x < y]."""
        return self._one_minus(self.ltz(self._diff(x, y, "ge"), **kw_bits(plus_bits(bits))))

    @op("eq", _eq_cost)
    def eq(self, x, y, bits=None):
        """[x == y] (0/1), exact on the whole ring."""
        return self.eqz(self._diff(x, y, "eq"), **kw_bits(plus_bits(bits)))

    @op("ne", _eq_cost)
    def ne(self, x, y, bits=None):
        """[x != y] (0/1)."""
        return self._one_minus(self.eqz(self._diff(x, y, "ne"), **kw_bits(plus_bits(bits))))

    @op("select", _select_cost)
    def select(self, c, a, b):
        """c ? a : b elementwise, c a secret 0/1 (broadcasts); a and b may be
        public. b + c (a - b): one multiplication."""
        a = a if isinstance(a, Shared) else self.public(a)
        b = b if isinstance(b, Shared) else self.public(b)
        return self.add(b, self.mul(c, self.sub(a, b)))

    @op("clamp", _clamp_cost)
    def clamp(self, x, lo=None, hi=None, bits=None):
        """min(max(x, lo), hi) for public lo <= hi (ring integers; use
        fx.encode for reals); either bound may be None."""
        if lo is None and hi is None:
            return x
        kw = kw_bits(plus_bits(bits))
        if lo is None or hi is None:
            bound = lo if hi is None else hi
            d = self._diff(x, bound, "clamp")                       # x - bound
            if hi is None:                                          # x < lo: x - (x - lo)
                return self.sub(x, self.ltz_mul(d, d, **kw)[1])
            nd = self.neg(d)                                        # hi - x < 0: x + (hi - x)
            return self.add(x, self.ltz_mul(nd, nd, **kw)[1])
        d_lo = self._diff(x, lo, "clamp")                           # x - lo
        d_hi = self._diff(hi, x, "clamp")                           # hi - x
        if d_lo.shape != d_hi.shape:
            s = np.broadcast_shapes(d_lo.shape, d_hi.shape)
            d_lo, d_hi = d_lo.broadcast_to(s), d_hi.broadcast_to(s)
        _, fix = self.ltz_mul(self._stack([d_lo, d_hi]), self._stack([self.neg(d_lo), d_hi]), **kw)
        fix = self.sum(fix, axis=-1)                                # (lo - x)[x<lo] + (hi - x)[x>hi]
        return self.add(x if x.shape == fix.shape else x.broadcast_to(fix.shape), fix)

    @op("onehot", lambda self, index, n, bits=None: eqz_cost(self, tuple(index.shape) + (int(n),),
                                                             plus_bits(bits)))
    def onehot(self, index, n, bits=None):
        """One-hot over n classes of a secret integer index: out[..., j] =
        [index == j]; all zeros if the index is outside 0..n-1. bits=k
        promises |index| < 2^(k-1) and n <= 2^(k-1)."""
        self._mine(index, "onehot")
        js = np.arange(int(n), dtype=np.uint64)
        d = self.add_public(self._expand(index), -js)
        return self.eqz(d, **kw_bits(plus_bits(bits)))
