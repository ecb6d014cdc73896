"""The protocol interface every layer above sees, and the `op` decorator that
attaches a DECLARED cost to every op. Imports mpcore only.

A protocol subclass implements the slot-level kernels (input, reveal, mul,
matmul, trunc, ...); this base class provides the linear ops on the local
slots, argument checking, fixed-point conveniences and batching helpers.

Declared costs are functions of the arguments returning `Cost(rounds,
elements_sent per party)`. The `op` decorator opens a ledger op scope and
stores the declared cost beside the measured one, so a test can compare
them for every call (`protocols.testing.conformance`). It runs on every op
call, so it is kept lean (Ledger.begin / end, no generator; a free op's
Cost is shared).

Truncated products: `fxprod([FxTerm(...), ...])` computes several
trunc((x OP y) * scale + add, shift) at once, rounded without bias
(`round_offset(d)`: what to add before a truncation by d bits so that the
protocol's truncation rounds without bias). The generic version here calls
mul_many / matmul_many / dot and one trunc per shift; a protocol with a
one-round fused version sets `fused_fxprod = True` (rep3).
"""
import functools
import math

import numpy as np

from mpcore.ledger import Cost
from mpcore.ring import DTYPE, to_ring
from mpcore.shares import Shared


class BoolShared(Shared):
    """A boolean (XOR) sharing: `parts` are XOR slots of packed uint64 words,
    64 bits per word, in the protocol's slot layout. A separate type so that
    arithmetic and boolean sharings are never mixed silently: arithmetic ops
    refuse it (`Protocol._mine`), its operators are ^ & ~ (and the shifts
    << >>), and `+ - *` raise TypeError. Convert with `b2a` / `a2b`."""
    __slots__ = ()

    def _map(self, fn):
        return BoolShared(self.proto, tuple(np.ascontiguousarray(fn(p)) for p in self.parts))

    def __repr__(self):
        return f"BoolShared({self.proto.name}, party {self.proto.party_id}, shape={self.shape})"

    def __xor__(self, other):
        if isinstance(other, Shared):
            return self.proto.xor(self, other)
        return self.proto.xor_public(self, other)

    __rxor__ = __xor__

    def __and__(self, other):
        if isinstance(other, Shared):
            return self.proto.and_(self, other)
        return self.proto.and_public(self, other)

    __rand__ = __and__

    def __invert__(self):
        return self.proto.not_(self)

    def __lshift__(self, d):
        return self.proto.shl_bits(self, d)

    def __rshift__(self, d):
        return self.proto.shr_bits(self, d)

    def _arith(self, *_):
        raise TypeError("arithmetic on a boolean (XOR) sharing: use ^ & ~, or convert with b2a")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __neg__ = __matmul__ = sum = _arith


def op(name, cost=None):
    """Mark a protocol method as an op with a declared cost.
    `cost(self, *args, **kwargs) -> Cost`; None means local (free).
    The wrapper opens a ledger op scope (Ledger.begin / end: no generator,
    it runs for every op call)."""
    def deco(fn):
        if cost is None:
            @functools.wraps(fn)
            def wrapper(self, *args, **kwargs):
                ledger = self.ledger
                rec = ledger.begin(name, self._free)
                try:
                    return fn(self, *args, **kwargs)
                finally:
                    ledger.end(rec)
        else:
            @functools.wraps(fn)
            def wrapper(self, *args, **kwargs):
                ledger = self.ledger
                rec = ledger.begin(name, cost(self, *args, **kwargs))
                try:
                    return fn(self, *args, **kwargs)
                finally:
                    ledger.end(rec)
        wrapper.op_name = name
        wrapper.declared_cost = cost
        return wrapper
    return deco


# ---- declared costs of composite ops ----------------------------------------------
class _Like:
    """A shape stand-in passed to declared-cost functions."""
    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = tuple(int(s) for s in shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def ndim(self):
        return len(self.shape)


def _declared(self, name, *shapes, **kwargs):
    """The declared cost of op `name` of this protocol for arguments of the
    given shapes (tuples become _Like stand-ins; anything else is passed)."""
    fn = getattr(type(self), name)
    cost = getattr(fn, "declared_cost", None)
    args = [_Like(s) if isinstance(s, tuple) else s for s in shapes]
    return cost(self, *args, **kwargs) if cost is not None else self.free()


def _total(self, costs):
    out = self.free()
    for c in costs:
        out = out + c
    return out


class FxTerm:
    """One truncated product for `Protocol.fxprod`:
        trunc((x OP y) * scale + add, shift)
    kind "mul" (elementwise, broadcasting), "dot" (over the last axis,
    broadcasting), "matmul" (2-D), or "lin" (no product: trunc(x * scale +
    add, shift)). scale: a public ring integer (or array broadcasting to the
    output), None for 1; add: a sharing of the output's shape, a public
    ring value (broadcasting), or None; shift: bits to truncate (None: the
    fixed-point frac_bits). rounded (default True): `fxprod` adds
    Protocol.round_offset(shift) before truncating, so the result is rounded
    without bias (False: the protocol's plain truncation)."""
    __slots__ = ("kind", "x", "y", "shift", "scale", "add", "rounded", "_shape")
    KINDS = ("mul", "dot", "matmul", "lin")

    def __init__(self, kind, x, y=None, shift=None, scale=None, add=None, rounded=True):
        if kind not in self.KINDS:
            raise ValueError(f"fxprod: term kind must be one of {self.KINDS}, got {kind!r}")
        if (y is None) != (kind == "lin"):
            raise ValueError(f"fxprod: a {kind!r} term {'takes no' if kind == 'lin' else 'needs a'} y")
        self.kind, self.x, self.y, self.shift, self.scale, self.add = kind, x, y, shift, scale, add
        self.rounded = rounded
        self._shape = None

    @property
    def shape(self):
        """Shape of the result."""
        if self._shape is None:
            if self.kind == "lin":
                s = tuple(self.x.shape)
            elif self.kind == "matmul":
                s = (self.x.shape[0], self.y.shape[1])
            else:
                s = broadcast_shape("fxprod", tuple(self.x.shape), tuple(self.y.shape))
                s = s[:-1] if self.kind == "dot" else s
            self._shape = s
        return self._shape

    @property
    def size(self):
        return math.prod(self.shape)


@functools.lru_cache(maxsize=4096)
def _fx_const(fx, value):
    out = np.asarray(fx.encode(value)).reshape(())
    out.setflags(write=False)
    return out


def _shift_groups(self, terms):
    """{shift: [term indices]} in order of first appearance."""
    groups = {}
    for i, t in enumerate(terms):
        d = self.fx.frac_bits if t.shift is None else int(t.shift)
        groups.setdefault(d, []).append(i)
    return groups


def _fxprod_cost(self, terms):
    """Declared cost of the generic fxprod: the ops its body calls."""
    cost = self.free()
    muls = [(_Like(t.x.shape), _Like(t.y.shape)) for t in terms if t.kind == "mul"]
    mms = [(_Like(t.x.shape), _Like(t.y.shape)) for t in terms if t.kind == "matmul"]
    if muls:
        cost = cost + _declared(self, "mul_many", muls)
    if mms:
        cost = cost + _declared(self, "matmul_many", mms)
    for t in terms:
        if t.kind == "dot":
            cost = cost + _declared(self, "dot", tuple(t.x.shape), tuple(t.y.shape))
    for d, idx in _shift_groups(self, terms).items():
        cost = cost + _declared(self, "trunc", (sum(terms[i].size for i in idx),), d)
    return cost


def broadcast_shape(op_name, a, b):
    if a == b:
        return tuple(a)
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"{op_name}: shapes {a} and {b} do not broadcast") from None


def ring_public(value, name="public value"):
    try:
        return to_ring(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected integers (ring elements), got {value!r:.80}") from exc


class Protocol:
    name = "abstract"
    n_parties = 0
    slots_per_party = 0
    actively_secure = False
    fused_fxprod = False      # True if fxprod is one round whatever its terms' shifts (rep3)

    def __init__(self, session):
        if session.n_parties != self.n_parties:
            raise ValueError(f"{self.name} runs on exactly {self.n_parties} parties, "
                             f"got a session of {session.n_parties}")
        self.session = session
        self._free = Cost(0, (0,) * self.n_parties)
        self.party_id = session.party_id
        self.net = session.net
        self.ledger = session.ledger
        self.fx = session.fx

    # ---- cost helpers -------------------------------------------------------
    def free(self):
        return self._free

    def each(self, n, rounds=1):
        return Cost(rounds, (int(n),) * self.n_parties)

    def only(self, party, n, rounds=1):
        sent = [0] * self.n_parties
        sent[party] = int(n)
        return Cost(rounds, tuple(sent))

    # ---- checks ---------------------------------------------------------------
    def _mine(self, x, op_name, arg="x"):
        if not isinstance(x, Shared):
            raise TypeError(f"{op_name}: {arg} must be a Shared value, got {type(x).__name__}")
        if isinstance(x, BoolShared):
            raise TypeError(f"{op_name}: {arg} is a boolean (XOR) sharing; this op needs an "
                            f"arithmetic one (convert with b2a)")
        if x.proto is not self:
            raise ValueError(f"{op_name}: {arg} belongs to another protocol instance "
                             f"({x.proto.name}, party {x.proto.party_id})")
        return x

    def wrap(self, parts):
        return Shared(self, parts)

    # ---- linear ops (local on every slot) ------------------------------------
    @op("add")
    def add(self, x, y):
        self._mine(x, "add"), self._mine(y, "add", "y")
        broadcast_shape("add", x.shape, y.shape)
        return self.wrap(a + b for a, b in zip(x.parts, y.parts))

    @op("sub")
    def sub(self, x, y):
        self._mine(x, "sub"), self._mine(y, "sub", "y")
        broadcast_shape("sub", x.shape, y.shape)
        return self.wrap(a - b for a, b in zip(x.parts, y.parts))

    @op("neg")
    def neg(self, x):
        self._mine(x, "neg")
        return self.wrap(-a for a in x.parts)

    @op("mul_public")
    def mul_public(self, x, c):
        self._mine(x, "mul_public")
        c = ring_public(c, "mul_public")
        broadcast_shape("mul_public", x.shape, c.shape)
        return self.wrap(a * c for a in x.parts)

    @op("add_public")
    def add_public(self, x, c):
        self._mine(x, "add_public")
        c = ring_public(c, "add_public")
        shape = broadcast_shape("add_public", x.shape, c.shape)
        parts = [p.copy() if p.shape == shape else np.broadcast_to(p, shape).copy()
                 for p in x.parts]
        for k in self.public_slot_positions():
            parts[k] += c
        return self.wrap(parts)

    def public_slot_positions(self):
        """Positions in this party's `parts` that hold additive slot 0 (where
        public constants go)."""
        raise NotImplementedError

    def round_offset(self, d):
        """What to add before truncating by d bits so that the truncation
        rounds without bias: 2^(d-1) for an exact floor (the default);
        protocols whose truncation is floor or one less (rep3) add 2^d."""
        return (1 << (int(d) - 1)) if d > 0 else 0

    @op("sum")
    def sum(self, x, axis=None):
        self._mine(x, "sum")
        return self.wrap(np.asarray(p.sum(axis=axis, dtype=DTYPE)) for p in x.parts)

    def public(self, value):
        """A public constant as a sharing (no communication)."""
        c = ring_public(value)
        parts = [np.zeros(c.shape, DTYPE) for _ in range(self.slots_per_party)]
        for k in self.public_slot_positions():
            parts[k] = c.copy()
        return self.wrap(parts)

    # ---- batching helpers -------------------------------------------------------
    def split(self, flat, shapes):
        """Cut a flat sharing into pieces of the given shapes (local)."""
        out, pos = [], 0
        for shape in shapes:
            size = math.prod(shape)
            out.append(self.wrap(p[pos:pos + size].reshape(shape) for p in flat.parts))
            pos += size
        return out

    def flat_concat(self, values):
        """Concatenate sharings of any shapes into one flat sharing (local)."""
        return self.wrap(np.concatenate([v.parts[j].reshape(-1) for v in values])
                         for j in range(self.slots_per_party))

    def fxmatmul_many(self, pairs):
        """Fixed-point products of several matrix pairs: one matmul_many and
        one truncation for all of them."""
        zs = self.matmul_many(pairs)
        t = self.trunc(self.flat_concat(zs), self.fx.frac_bits)
        return self.split(t, [z.shape for z in zs])

    def fxprod(self, terms):
        """Truncated products (see FxTerm) of several terms, as a list of
        sharings, rounded without bias unless a term says rounded=False.
        Generic version, a plain method that calls ops (like
        fxmatmul_many): one mul_many, one matmul_many, one dot per dot term,
        then one truncation per distinct shift (2+ rounds); its cost is
        `fxprod.declared_cost`. rep3 makes it ONE op of ONE round
        (protocols.rep3.arithmetic)."""
        terms = list(terms)
        prods = [None] * len(terms)
        for kind, many in (("mul", self.mul_many), ("matmul", self.matmul_many)):
            idx = [i for i, t in enumerate(terms) if t.kind == kind]
            if idx:
                for i, v in zip(idx, many([(terms[i].x, terms[i].y) for i in idx])):
                    prods[i] = v
        for i, t in enumerate(terms):
            if t.kind == "dot":
                prods[i] = self.dot(t.x, t.y)
            elif t.kind == "lin":
                prods[i] = t.x
        vals = []
        for t, v in zip(terms, prods):
            if t.scale is not None:
                v = self.mul_public(v, t.scale)
            if isinstance(t.add, Shared):
                v = self.add(v, t.add)
            elif t.add is not None:
                v = self.add_public(v, t.add)
            if t.rounded:
                v = self.add_public(v, self.round_offset(
                    self.fx.frac_bits if t.shift is None else int(t.shift)))
            vals.append(v)
        out = [None] * len(terms)
        for d, idx in _shift_groups(self, terms).items():
            flat = self.trunc(self.flat_concat([vals[i] for i in idx]), d)
            for i, v in zip(idx, self.split(flat, [terms[i].shape for i in idx])):
                out[i] = v
        return out

    fxprod.declared_cost = _fxprod_cost

    # ---- fixed point --------------------------------------------------------
    def fx_const(self, value):
        """fx.encode of a public real scalar, memoised (hot loops encode the
        same constants again and again). A read-only 0-d uint64 array."""
        return _fx_const(self.fx, float(value))

    def input_fx(self, value, owner, shape=None):
        enc = self.fx.encode(value) if self.party_id == owner else None
        return self.input(enc, owner, shape if shape is not None else None)

    def reveal_fx(self, x):
        return self.fx.decode(self.reveal(x))

    def fxmul_public(self, x, c):
        """x times a public real c (fixed point), truncated."""
        return self.trunc(self.mul_public(x, self.fx.encode(c)), self.fx.frac_bits)

    # ---- end of a run -----------------------------------------------------------
    def finish(self):
        """Complete pending checks (actively secure protocols)."""
