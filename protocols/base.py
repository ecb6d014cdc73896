"""The protocol interface every layer above sees, and the `op` decorator that
attaches a DECLARED cost to every op. Imports mpcore only.

A protocol subclass implements the slot-level kernels (input, reveal, mul,
matmul, trunc, ...); this base class provides the linear ops on the local
slots, argument checking, fixed-point conveniences and batching helpers.

Declared costs are functions of the arguments returning `Cost(rounds,
elements_sent per party)`. The `op` decorator opens a ledger op scope and
stores the declared cost beside the measured one, so a test can compare
them for every call (`protocols.testing.conformance`).
"""
import functools

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
    `cost(self, *args, **kwargs) -> Cost`; None means local (free)."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            declared = cost(self, *args, **kwargs) if cost else self.free()
            with self.ledger.op(name, declared):
                return fn(self, *args, **kwargs)
        wrapper.op_name = name
        wrapper.declared_cost = cost
        return wrapper
    return deco


def broadcast_shape(op_name, a, b):
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

    def __init__(self, session):
        if session.n_parties != self.n_parties:
            raise ValueError(f"{self.name} runs on exactly {self.n_parties} parties, "
                             f"got a session of {session.n_parties}")
        self.session = session
        self.party_id = session.party_id
        self.net = session.net
        self.ledger = session.ledger
        self.fx = session.fx

    # ---- cost helpers -------------------------------------------------------
    def free(self):
        return Cost(0, (0,) * self.n_parties)

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
        parts = [np.broadcast_to(p, shape).copy() for p in x.parts]
        for k in self.public_slot_positions():
            parts[k] += c
        return self.wrap(parts)

    def public_slot_positions(self):
        """Positions in this party's `parts` that hold additive slot 0 (where
        public constants go)."""
        raise NotImplementedError

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
            size = int(np.prod(shape, dtype=np.int64))
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

    # ---- fixed point --------------------------------------------------------
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
