"""max / argmax / argmax_onehot over the last axis, for any protocol
(layer 3), mixed into protocols.nonlinear.Nonlinear. Imports mpcore,
protocols.base, .bounds. Conventions and `bits` as in protocols.nonlinear
(bits=k promises |x| < 2^(k-1) for the elements compared; their
differences get k + 1). Ties always go to the LOWEST index.

Methods (rounds for rep3 with bits <= 32, where ltz / ltz_mul take 5 and a
count's eqz 2; 6 more each with bits=None on the full ring):
  "tournament" (default): over the last axis, padded to a power of two with
    copies of x[..., 0] (which never win); each level one batched ltz and
    one mul_many (the winner's value, and for the one-hot / index the
    winner's one-hot / index). k - 1 comparisons (padded), ceil(log2 k)
    levels of 6 rounds.
  "pairwise": all k(k-1)/2 differences x_i - x_j (i < j) in ONE ltz; j loses
    to i < j if x_i >= x_j and to i > j if x_i > x_j, so the lose counts are
    linear in the comparison bits (a public matrix) and the winner is
    [lose == 0] (one eqz of a count below k: 2 rounds); index = sum j m_j
    (local), max adds one dot. 5 + 2 (+1) rounds.
  "hybrid": one tournament level on the pairs (2g, 2g+1) (one ltz_mul: the
    pair bit c and the winner's value), "pairwise" among the ceil(k/2)
    winners, and one mul to expand the winners' one-hot o by the pair bits
    ((o (1 - c), o c)): k/2 + C(ceil(k/2), 2) comparisons (15 for k = 10
    instead of 45), 5 + 5 + 2 + 1 (+1) rounds.
"""
import numpy as np

from mpcore.ring import DTYPE

from .base import _Like, _declared, _total, op
from .bounds import (count_bits, eqz_cost, kw_bits, lose_matrix, ltz_cost, ltz_mul_cost,
                     pair_index, plus_bits)


def _tournament_levels(shape):
    """(leading shape, groups before each level, group width) per level."""
    lead, k = tuple(shape[:-1]), int(shape[-1])
    size = 1
    while size < k:
        size *= 2
    levels, g, w = [], size, 1
    while g > 1:
        levels.append((lead, g, w))
        g, w = g // 2, w * 2
    return levels


def _tournament_cost(self, shape, bits=None, onehot=False, index=False):
    costs = []
    for lead, g, w in _tournament_levels(shape):
        h = lead + (g // 2,)
        pairs = [(h, h)]
        if onehot and w > 1:
            pairs.append((h + (1,), h + (2 * w,)))
        if index and w > 1:
            pairs.append((h, h))
        costs += [ltz_cost(self, h, plus_bits(bits)),
                  _declared(self, "mul_many", [(_Like(a), _Like(b)) for a, b in pairs])]
    return _total(self, costs)


def _pairwise_cost(self, shape, bits=None, want="onehot"):
    lead, k = tuple(shape[:-1]), int(shape[-1])
    cost = (ltz_cost(self, lead + (k * (k - 1) // 2,), plus_bits(bits))
            + eqz_cost(self, lead + (k,), count_bits(k)))
    if want == "max":
        cost = cost + _declared(self, "dot", lead + (k,), lead + (k,))
    return cost


def _hybrid_cost(self, shape, bits=None, want="onehot"):
    lead, k = tuple(shape[:-1]), int(shape[-1])
    if k <= 3:
        return _pairwise_cost(self, shape, bits, want)
    h = k // 2
    cost = (ltz_mul_cost(self, lead + (h,), plus_bits(bits))
            + _pairwise_cost(self, lead + (k - h,), bits)
            + _declared(self, "mul", lead + (h,), lead + (h,)))
    if want == "max":
        cost = cost + _declared(self, "dot", lead + (k,), lead + (k,))
    return cost


def _argmax_cost(self, x, bits=None, method=None, want="onehot"):
    if x.shape[-1] == 1:
        return self.free()
    if (method or "tournament") == "pairwise":
        return _pairwise_cost(self, x.shape, bits, want)
    if method == "hybrid":
        return _hybrid_cost(self, x.shape, bits, want)
    _check_method(method)
    return _tournament_cost(self, x.shape, bits, onehot=want == "onehot", index=want == "index")


def _check_method(method):
    if method not in (None, "tournament", "pairwise", "hybrid"):
        raise ValueError(f"method must be 'tournament', 'pairwise' or 'hybrid', got {method!r}")


# ---- the mixin ---------------------------------------------------------------------------


class ArgmaxFunctions:
    def _tournament(self, x, bits=None, onehot=False, index=False):
        k = x.shape[-1]
        lead = x.shape[:-1]
        levels = _tournament_levels(x.shape)
        size = levels[0][1] if levels else 1
        if size > k:
            pad = x[..., :1].broadcast_to(lead + (size - k,))
            x = self._concat([x, pad])
        vals, oh, idx = x, None, None
        kw = kw_bits(plus_bits(bits))
        for _, g, w in levels:
            a, b = vals[..., 0::2], vals[..., 1::2]
            c = self.ltz(self.sub(a, b), **kw)               # right wins only if strictly larger
            pairs = [(c, self.sub(b, a))]
            if onehot and w > 1:
                pairs.append((self._expand(c), oh))
            if index and w > 1:
                pairs.append((c, self.sub(idx[..., 1::2], idx[..., 0::2])))
            prods = self.mul_many(pairs)
            vals = self.add(a, prods[0])
            if onehot:
                if w == 1:
                    oh = self._stack([self._one_minus(c), c])
                else:
                    half = oh.shape[-1] // 2
                    cab = prods[1]
                    oh = self._concat([self.sub(oh[..., :half], cab[..., :half]),
                                       cab[..., half:]])
                if g > 2:
                    oh = self._regroup(oh)
            if index:
                if w == 1:
                    base = np.arange(0, g, 2, dtype=np.uint64)
                    idx = self.add_public(c, np.broadcast_to(base, c.shape))
                else:
                    idx = self.add(idx[..., 0::2], prods[-1])
        return vals, oh, idx

    def _regroup(self, oh):
        """(..., G, 2w) winners' one-hots -> (..., G/2, 2, 2w) pairs, as
        (..., G/2, 4w) concatenated left|right for the next level (local)."""
        s = oh.shape
        return oh.reshape(*s[:-2], s[-2] // 2, 2 * s[-1])

    def _pairwise_onehot(self, x, bits=None):
        """One-hot of the maximum over the last axis (ties to the lowest
        index) from all pairwise comparisons at once (module docstring)."""
        k = x.shape[-1]
        I, J = pair_index(k)
        d = self.sub(x[..., I], x[..., J])                  # x_i - x_j, i < j
        L = self.ltz(d, **kw_bits(plus_bits(bits)))         # [x_i < x_j]: i loses
        lose = self.add_public(self._linear_map(L, lose_matrix(k)),
                               np.arange(k, dtype=DTYPE))
        return self.eqz(lose, bits=count_bits(k))

    def _hybrid_onehot(self, x, bits=None):
        """One-hot of the maximum (ties to the lowest index): one tournament
        level on the pairs (2g, 2g+1) (one ltz_mul: the bit and the winner),
        pairwise among the ceil(k/2) winners, and one mul to expand the
        winners' one-hot by the pair bits."""
        k = x.shape[-1]
        if k <= 3:
            return self._pairwise_onehot(x, bits)
        h = k // 2
        a, b = x[..., 0:2 * h:2], x[..., 1:2 * h:2]
        c, cba = self.ltz_mul(self.sub(a, b), self.sub(b, a),
                              **kw_bits(plus_bits(bits)))          # [a < b]: b wins
        w = self.add(a, cba)
        if k % 2:
            w = self._concat([w, x[..., 2 * h:]])
        o = self._pairwise_onehot(w, bits)                          # over the winners
        oc = self.mul(o[..., :h], c)
        pair = self._stack([self.sub(o[..., :h], oc), oc])           # (..., h, 2)
        oh = pair.reshape(*pair.shape[:-2], 2 * h)
        return self._concat([oh, o[..., h:]]) if k % 2 else oh

    def _argmax_any(self, x, name, bits, method, want):
        self._mine(x, name)
        _check_method(method)
        k = x.shape[-1]
        if k == 1:
            if want == "max":
                return self._last(x, 0)
            if want == "index":
                return self.wrap(np.zeros(x.shape[:-1], DTYPE) for _ in x.parts)
            return self.public(np.ones(x.shape, dtype=np.uint64))
        if method in ("pairwise", "hybrid"):
            oh = (self._pairwise_onehot if method == "pairwise" else self._hybrid_onehot)(x, bits)
            if want == "onehot":
                return oh
            if want == "index":
                return self.sum(self.mul_public(oh, np.arange(k, dtype=DTYPE)), axis=-1)
            return self.dot(oh, x)
        vals, oh, idx = self._tournament(x, bits, onehot=want == "onehot", index=want == "index")
        if want == "max":
            return self._last(vals, 0)
        if want == "index":
            return self._last(idx, 0)
        return oh.reshape(*x.shape[:-1], -1)[..., :k]

    @op("max", lambda self, x, bits=None, method=None: _argmax_cost(self, x, bits, method, "max"))
    def max(self, x, bits=None, method=None):
        """Maximum over the last axis (any scale)."""
        return self._argmax_any(x, "max", bits, method, "max")

    @op("argmax", lambda self, x, bits=None, method=None: _argmax_cost(self, x, bits, method,
                                                                      "index"))
    def argmax(self, x, bits=None, method=None):
        """Index of the maximum over the last axis (lowest index on ties), as
        an arithmetic sharing of the integer index."""
        return self._argmax_any(x, "argmax", bits, method, "index")

    @op("argmax_onehot", lambda self, x, bits=None, method=None: _argmax_cost(self, x, bits,
                                                                             method, "onehot"))
    def argmax_onehot(self, x, bits=None, method=None):
        """One-hot (0/1, same shape as x) of the maximum over the last axis,
        lowest index on ties."""
        return self._argmax_any(x, "argmax_onehot", bits, method, "onehot")
