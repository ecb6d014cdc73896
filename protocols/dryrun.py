"""Dry run: the cost of a program from the ops' DECLARED costs, without
computing or communicating. Imports mpcore and protocols (base, the
registry); nothing above.

    res = run_dry(program, "rep3", args=(...,))
    res.summary(("filter",))   # {"rounds", "bytes_sent" per party, ...}
    res.ops()                  # aggregated top-level ops, for a time model

How. `dry(cls)` builds a subclass of a protocol class in which every op
method (a method with `op_name`, see protocols.base.op) is replaced by a
wrapper that
  * computes the op's `declared_cost(self, *args, **kwargs)`,
  * records it under the current label-scope path (`ledger.scope(...)`),
  * returns a value of the right SHAPE without running the body, by a shape
    rule per op name (`SHAPE_RULES`; `register_shape_rule` adds one).
Bodies never run, so no op nests in another: every recorded op is a
top-level op, as in the real ledger (whose top-level ops' declared costs
cover their nested ops). Plain methods that call several ops
(`fxmatmul_many`, `fxmul_public`, the generic `fxprod`, Rep4's `flush`) run
as they are, so their ops are recorded one by one, exactly as a real run
records them. Each record also keeps the work measure of the op (elements,
multiply-adds, last-axis width) and the declared cost of the same call
without `bits=` / `method=` (bench.timemodel scales its fitted times by it).

Values. A dry `Shared` holds "ghost" parts: numpy arrays of the right shape
with a zero-size dtype (`np.dtype([])`, itemsize 0). Every local
restructuring (slicing, fancy indexing, reshape, transpose, concatenate,
ascontiguousarray, the copies of `Shared._map`) works on them and allocates
nothing, so a paper-scale program (60,000 x 784 training data, 100 owners)
runs in small memory whatever it slices or concatenates. A local NUMERIC
op on shares inside `Shared._map` (a cumulative sum of one-hot labels, ...)
is rerun on a zero-stride uint64 view of the same shape, allocating only
its result: while a dry run lasts (`ghost_values`), `Shared._map` and
`BoolShared._map` are replaced by versions that do this for ghost parts and
behave as before for real ones (mpcore.shares is not edited). Arithmetic on
a ghost anywhere else raises TypeError (DryRunError): such code cannot be
dry-run and says so loudly. Revealed values are zeros (real uint64 arrays
of the revealed shape); `reveal_to` returns None at parties other than the
target. Declared costs are memoized per dry protocol instance on the
arguments' shapes and keywords (a training loop repeats a few calls
thousands of times).

The run. Only party 0 runs (`party_id=0`); declared costs give every
party's bytes. The session has no network: its PRG keys are dummies, and
the key set-up (`Session.agree_keys`, ledger op "setup", which has no
declared cost) is computed here from the subsets the protocol asks for:
the lowest member of each subset sends the key (16 bytes) to the others, all
in one message per peer, 1 round. Rep4's key check ("key_check") and final
check ("check" in `finish()`) are ordinary declared ops.

Protocol state that declared costs read. Rep4 declares an extra check round
in `reveal` when hashes are pending; the bodies that set `pending` do not
run, so `track_pending` mirrors them: a check, reveal or reveal_to clears
it, receive_external and any op that sends ring elements set it (with
`check` on). A protocol class may define `dry_pending_after(op_name, cost,
pending)` to override the rule.

Limits (see docs/cost_model.md):
  * data-dependent control flow on revealed values cannot be dry-run (the
    revealed values are zeros, so the program takes the zero branch);
  * an op without a shape rule raises DryRunError naming it;
  * messages are not predicted (declared costs count elements, not
    messages); `messages_sent` is None in summaries.
"""
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mpcore.fixedpoint import DEFAULT as DEFAULT_FX
from mpcore.ledger import Cost
from mpcore.prg import KEY_BYTES, Prg
from mpcore.shares import Shared

from .base import BoolShared

GHOST = np.dtype([])          # itemsize 0: shapes without memory
ELEMENT_BYTES = 8


class DryRunError(Exception):
    """The program cannot be dry-run (an op without a shape rule, a value
    touched outside an op, ...)."""


def ghost(shape):
    """A zero-byte array of the given shape."""
    return np.empty(tuple(int(s) for s in shape), dtype=GHOST)


# ---- shapes -------------------------------------------------------------------------
def _shape(v):
    if isinstance(v, Shared):
        return tuple(v.shape)
    if v is None:
        return ()
    return tuple(np.shape(v))


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _bshape(*vs):
    return tuple(np.broadcast_shapes(*[_shape(v) for v in vs if v is not None]))


def _new(proto, shape, kind=Shared):
    g = ghost(shape)
    return kind(proto, (g,) * proto.slots_per_party)


def _arith_like(name):
    """Elementwise over every positional argument (broadcast), arithmetic result."""
    def rule(self, *args, **kwargs):
        s = _bshape(*args)
        return _new(self, s), _size(s), 0
    rule.__name__ = f"elementwise_{name}"
    return rule


def _same_kind(self, *args, **kwargs):
    """Elementwise, result of the first argument's kind (boolean stays boolean)."""
    s = _bshape(*args)
    kind = BoolShared if isinstance(args[0], BoolShared) else Shared
    return _new(self, s, kind), _size(s), 0


def _bool_out(self, *args, **kwargs):
    s = _bshape(*args)
    return _new(self, s, BoolShared), _size(s), 0


def _first_shape(kind=Shared):
    def rule(self, x, *args, **kwargs):
        return _new(self, x.shape, kind), x.size, 0
    return rule


def _matmul_shape(x, y):
    if len(x.shape) != 2 or len(y.shape) != 2 or x.shape[1] != y.shape[0]:
        raise ValueError(f"matmul: needs (a x b) @ (b x c) matrices, got {x.shape} @ {y.shape}")
    return (x.shape[0], y.shape[1]), x.shape[0] * x.shape[1] * y.shape[1]


def _matmul(self, x, y, *args, **kwargs):
    s, flops = _matmul_shape(x, y)
    return _new(self, s), _size(s), flops


def _matmul_many(self, pairs, *args, **kwargs):
    out, n, flops = [], 0, 0
    for x, y in pairs:
        s, f = _matmul_shape(x, y)
        out.append(_new(self, s))
        n += _size(s)
        flops += f
    return out, n, flops


def _many(kind):
    def rule(self, pairs, *args, **kwargs):
        out, n = [], 0
        for x, y in pairs:
            s = _bshape(x, y)
            out.append(_new(self, s, kind))
            n += _size(s)
        return out, n, 0
    return rule


def _dot(self, x, y, *args, **kwargs):
    s = _bshape(x, y)
    if not s:
        raise ValueError("dot: needs at least one axis")
    return _new(self, s[:-1]), _size(s), 0


def _sum(self, x, axis=None, *args, **kwargs):
    if axis is None:
        s = ()
    else:
        axes = {a % x.ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,))}
        s = tuple(d for k, d in enumerate(x.shape) if k not in axes)
    return _new(self, s), x.size, 0


def _drop_last(self, x, *args, **kwargs):
    return _new(self, x.shape[:-1]), x.size, 0


def _onehot(self, index, n, *args, **kwargs):
    s = tuple(index.shape) + (int(n),)
    return _new(self, s), _size(s), 0


def _input(kind):
    def rule(self, value, owner, shape=None, *args, **kwargs):
        s = _shape(value) if value is not None else tuple(shape)
        return _new(self, s, kind), _size(s), 0
    return rule


def _receive_external(self, payload, *args, **kwargs):
    s = tuple(payload["shape"])
    upload = payload.get("dry_upload_bytes")
    if upload is None:          # a real payload: this party's own bytes only
        own = sum(len(d) if k == "seed" else ELEMENT_BYTES * _size(s) for k, d in payload["slots"])
        upload = tuple(own if p == self.party_id else 0 for p in range(self.n_parties))
    self.ledger.on_upload_all(upload)
    return _new(self, s), _size(s), 0


def _ltz_mul(self, x, y, *args, **kwargs):
    s = _bshape(x, y)
    return (_new(self, x.shape), _new(self, s)), _size(s), 0


def _fxprod(self, terms, *args, **kwargs):
    out, n, flops = [], 0, 0
    for t in terms:
        s = tuple(t.shape)
        out.append(_new(self, s))
        n += _size(s)
        if t.kind == "matmul":
            flops += t.x.shape[0] * t.x.shape[1] * t.y.shape[1]
    return out, n, flops


def _reveal(self, x, *args, **kwargs):
    return np.zeros(x.shape, np.uint64), x.size, 0


def _reveal_to(self, x, party, *args, **kwargs):
    value = np.zeros(x.shape, np.uint64) if self.party_id == party else None
    return value, x.size, 0


def _nothing(self, *args, **kwargs):
    return None, 0, 0


SHAPE_RULES = {
    # linear, local
    "add": _arith_like("add"), "sub": _arith_like("sub"), "neg": _arith_like("neg"),
    "mul_public": _arith_like("mul_public"), "add_public": _arith_like("add_public"),
    "sum": _sum,
    # arithmetic
    "mul": _arith_like("mul"), "fxmul": _arith_like("fxmul"), "trunc": _first_shape(),
    "mul_many": _many(Shared), "dot": _dot,
    "matmul": _matmul, "fxmatmul": _matmul, "matmul_many": _matmul_many, "fxprod": _fxprod,
    # input / output
    "input": _input(Shared), "input_bits": _input(BoolShared),
    "receive_external": _receive_external,
    "reveal": _reveal, "reveal_bits": _reveal, "reveal_to": _reveal_to,
    # boolean
    "xor": _same_kind, "xor_public": _same_kind, "and_public": _same_kind, "not_": _same_kind,
    "shl_bits": _first_shape(BoolShared), "shr_bits": _first_shape(BoolShared),
    "and_": _bool_out, "and_many": _many(BoolShared),
    # conversions and comparisons
    "a2b": _first_shape(BoolShared), "b2a": _first_shape(),
    "ltz": _first_shape(), "msb": _first_shape(), "eqz": _first_shape(),
    "drelu": _first_shape(), "relu": _first_shape(), "ltz_mul": _ltz_mul,
    "lt": _arith_like("lt"), "gt": _arith_like("gt"), "le": _arith_like("le"),
    "ge": _arith_like("ge"), "eq": _arith_like("eq"), "ne": _arith_like("ne"),
    "select": _arith_like("select"),
    "clamp": lambda self, x, lo=None, hi=None, *a, **k: _arith_like("clamp")(self, x, lo, hi),
    "max": _drop_last, "argmax": _drop_last, "argmax_onehot": _first_shape(),
    "onehot": _onehot,
    # fixed-point functions
    "sigmoid": _first_shape(), "exp": _first_shape(), "reciprocal": _first_shape(),
    "softmax": _first_shape(),
    "div": lambda self, x, y, *a, **k: _arith_like("div")(self, x, y),
    # checks (rep4)
    "check": _nothing, "key_check": _nothing,
}


def register_shape_rule(op_name, rule):
    """Add the shape rule of a new op: rule(proto, *args, **kwargs) ->
    (result, elements, flops); `elements` (and `flops` for products of
    matrices) are the work measure the time model prices."""
    SHAPE_RULES[op_name] = rule


# ---- the ledger of a dry run -------------------------------------------------------------
@dataclass(frozen=True)
class DryOp:
    """Top-level ops with the same name, path, cost and size: `count` of them."""
    stage: str                  # "init" (set-up), "program" or "finish"
    path: tuple                 # label scopes, outermost first
    name: str
    rounds: int
    bytes_sent: tuple           # per party, one op
    elements: int               # work measure of one op
    flops: int                  # multiply-adds of matrix products, one op
    width: int                  # last axis of the first argument (0: none)
    variant: str                # structural keyword ("method=pairwise"), "" if none
    ref: tuple                  # (rounds, max bytes) of the same call without `bits`
    ref_plain: tuple            # ... without `bits` and `method` (time-model scaling)
    count: int

    @property
    def max_bytes(self):
        return max(self.bytes_sent) if self.bytes_sent else 0


class DryLedger:
    """What a dry run records: the declared cost of every top-level op under
    its label-scope path. The scope / op / on_upload interface of
    mpcore.ledger.Ledger, so programs that open label scopes run unchanged."""

    def __init__(self, party_id, n_parties):
        self.party_id = party_id
        self.n_parties = n_parties
        self.stage = "init"
        self._labels = []
        self._manual = []          # ops opened by the program itself (ledger.op)
        self._seq = 0
        self.counts = defaultdict(int)
        self.upload_bytes = [0] * n_parties
        self.total_upload_bytes = 0
        self.scope_seconds = {}

    # ---- the Ledger interface used by programs and protocols ----------------------
    @property
    def current_seq(self):
        return self._seq

    @property
    def current_op(self):
        return "/".join(self._manual) or "(no op)"

    @contextmanager
    def scope(self, label):
        self._labels.append(label)
        try:
            yield
        finally:
            self._labels.pop()

    def begin(self, name, declared=None):
        """An op opened by hand (not a protocol op): recorded with its declared
        cost (None: free); protocol ops inside it are nested, not counted."""
        if not self._manual:
            self.record(name, declared, 0, 0)
        self._manual.append(name)
        return name

    def end(self, rec=None):
        self._manual.pop()

    @contextmanager
    def op(self, name, declared=None):
        rec = self.begin(name, declared)
        try:
            yield None
        finally:
            self.end(rec)

    def on_upload(self, nbytes):
        self.on_upload_all(tuple(nbytes if p == self.party_id else 0
                                 for p in range(self.n_parties)))

    def on_upload_all(self, per_party):
        for p, b in enumerate(per_party):
            self.upload_bytes[p] += int(b)
        self.total_upload_bytes = sum(self.upload_bytes)

    # ---- recording -------------------------------------------------------------------
    def record(self, name, declared, elements, flops, width=0, variant="", ref=None,
               ref_plain=None):
        if self._manual:
            return                                  # nested: covered by the enclosing op
        self._seq += 1
        if declared is None:
            declared = Cost(0, (0,) * self.n_parties)
        key = (self.stage, tuple(self._labels), name, int(declared.rounds),
               tuple(int(b) for b in declared.bytes_sent(ELEMENT_BYTES)), int(elements), int(flops),
               int(width), variant, ref or (), ref_plain or ())
        self.counts[key] += 1


# ---- the session ------------------------------------------------------------------------
class DrySession:
    """A party's session without network: dummy keys; the key set-up is
    recorded as op "setup" with its computed cost."""

    def __init__(self, party_id, n_parties, ledger, fixed_point=DEFAULT_FX):
        self.party_id = party_id
        self.n_parties = n_parties
        self.net = None
        self.ledger = ledger
        self.test_seed = None
        self.fx = fixed_point
        self.private = Prg(bytes(KEY_BYTES), name=f"dry-private{party_id}")

    def agree_keys(self, subsets):
        subsets = sorted({tuple(sorted(s)) for s in subsets})
        sent = [0] * self.n_parties
        for s in subsets:
            sent[s[0]] += KEY_BYTES * (len(s) - 1)   # the leader sends the key to each member
        cost = Cost(1 if any(sent) else 0, (0,) * self.n_parties, tuple(sent))
        self.ledger.record("setup", cost, 0, 0)
        me = self.party_id
        return {frozenset(s): Prg(bytes(KEY_BYTES), name="dry" + "".join(map(str, s)))
                for s in subsets if me in s}


# ---- the dry protocol class ----------------------------------------------------------------
def track_pending(proto, op_name, cost):
    """Mirror Rep4's `pending` flag (hashes folded since the last check),
    which the skipped bodies would have set; see the module docstring."""
    if not getattr(proto, "check", False) or not hasattr(proto, "pending"):
        return
    custom = getattr(proto, "dry_pending_after", None)
    if custom is not None:
        proto.pending = bool(custom(op_name, cost, proto.pending))
    elif op_name in ("check", "reveal", "reveal_to", "reveal_bits"):
        proto.pending = False
    elif op_name == "receive_external" or any(cost.elements_sent):
        proto.pending = True


VARIANT_KEYWORDS = ("method",)     # change an op's algorithm: priced apart when calibrated
SCALING_KEYWORDS = ("bits",)       # change its size: priced by the declared-cost ratio


def _short(cost):
    b = cost.bytes_sent(ELEMENT_BYTES)
    return (int(cost.rounds), int(max(b)) if b else 0)


def _refs(self, cost_fn, declared, args, kwargs):
    """(variant, ref, ref_plain): the declared cost of the same call without
    the scaling keywords, and without the variant keywords too."""
    variant = ",".join(f"{k}={kwargs[k]}" for k in VARIANT_KEYWORDS if kwargs.get(k) is not None)
    if cost_fn is None or not any(k in kwargs for k in SCALING_KEYWORDS + VARIANT_KEYWORDS):
        short = _short(declared)
        return variant, short, short
    out = []
    for drop in (SCALING_KEYWORDS, SCALING_KEYWORDS + VARIANT_KEYWORDS):
        kw = {k: v for k, v in kwargs.items() if k not in drop}
        try:
            out.append(_short(cost_fn(self, *args, **kw)))
        except Exception:                       # noqa: BLE001 - no reference: no scaling
            out.append(_short(declared))
    return variant, out[0], out[1]


class _Uncacheable(Exception):
    pass


def _key(v):
    """What a declared cost may depend on: shapes of sharings and arrays,
    scalars, and the same inside lists and FxTerm-like objects."""
    if isinstance(v, Shared):
        return (type(v).__name__, v.shape)
    if isinstance(v, np.ndarray):
        return ("array", v.shape, v.dtype.str)
    if v is None or isinstance(v, (int, float, str, bool, np.integer, np.floating)):
        return v
    if isinstance(v, (list, tuple)):
        return tuple(_key(x) for x in v)
    slots = getattr(type(v), "__slots__", None)
    if slots:                                   # e.g. protocols.base.FxTerm
        return (type(v).__name__,) + tuple(_key(getattr(v, k, None)) for k in slots)
    raise _Uncacheable


def _costs(self, op_name, cost_fn, args, kwargs):
    """(declared, variant, ref, ref_plain), memoized per dry protocol instance
    on the arguments' shapes (and on Rep4's pending / check state): a
    training loop repeats the same few calls thousands of times."""
    try:
        key = (op_name, _key(args), _key(tuple(sorted(kwargs.items()))),
               getattr(self, "pending", None), getattr(self, "check", None))
    except _Uncacheable:
        key = None
    cache = self.__dict__.setdefault("_dry_costs", {})
    if key is not None and key in cache:
        return cache[key]
    declared = cost_fn(self, *args, **kwargs) if cost_fn is not None else self.free()
    out = (declared,) + _refs(self, cost_fn, declared, args, kwargs)
    if key is not None:
        cache[key] = out
    return out


def _dry_op(op_name, cost_fn):
    def method(self, *args, **kwargs):
        declared, variant, ref, ref_plain = _costs(self, op_name, cost_fn, args, kwargs)
        rule = SHAPE_RULES.get(op_name)
        if rule is None:
            raise DryRunError(f"dry run: no shape rule for op {op_name!r} of {self.name}; "
                              f"add one with protocols.dryrun.register_shape_rule")
        result, elements, flops = rule(self, *args, **kwargs)
        first = args[0] if args else None
        width = first.shape[-1] if isinstance(first, Shared) and first.ndim else 0
        self.ledger.record(op_name, declared, elements, flops, width, variant, ref, ref_plain)
        track_pending(self, op_name, declared)
        return result
    method.op_name = op_name
    method.declared_cost = cost_fn
    method.__name__ = f"dry_{op_name}"
    return method


_DRY_CLASSES = {}


def dry(protocol_cls):
    """The dry variant of a protocol class (cached)."""
    if getattr(protocol_cls, "is_dry", False):
        return protocol_cls
    if protocol_cls in _DRY_CLASSES:
        return _DRY_CLASSES[protocol_cls]
    ns = {"is_dry": True, "__doc__": f"Dry run of {protocol_cls.__name__} (protocols.dryrun)."}
    for attr in dir(protocol_cls):
        fn = getattr(protocol_cls, attr, None)
        op_name = getattr(fn, "op_name", None)
        if op_name is not None and callable(fn):
            ns[attr] = _dry_op(op_name, getattr(fn, "declared_cost", None))
    cls = type(f"Dry{protocol_cls.__name__}", (protocol_cls,), ns)
    _DRY_CLASSES[protocol_cls] = cls
    return cls


# ---- local restructuring of ghost values ----------------------------------------------------
def _ghost_map(original):
    """`Shared._map` for ghost parts: run `fn` on the ghost (free: slicing,
    reshape, transpose, concatenation); a local NUMERIC op (e.g. a cumulative
    sum of shares) fails on the zero-size dtype and is rerun on a zero-stride
    uint64 view of the same shape, which allocates only its result. Values
    with real parts go to the original method."""
    def _map(self, fn):
        if not self.parts or self.parts[0].dtype != GHOST:
            return original(self, fn)
        parts = []
        for p in self.parts:
            try:
                shape = np.shape(fn(p))
            except TypeError:
                shape = np.shape(fn(np.broadcast_to(np.uint64(0), p.shape)))
            parts.append(ghost(shape))
        return type(self)(self.proto, tuple(parts))
    _map.dry_original = original
    return _map


_PATCH = {"depth": 0, "saved": [], "lock": threading.Lock()}


@contextmanager
def ghost_values():
    """While dry runs last: `Shared._map` and `BoolShared._map` understand
    ghost parts (mpcore.shares is not changed on disk; values with real parts
    behave exactly as before, so a real run in another thread is unaffected).
    Reference-counted, so concurrent dry runs are fine."""
    with _PATCH["lock"]:
        if _PATCH["depth"] == 0:
            for cls in (Shared, BoolShared):
                original = cls.__dict__["_map"]
                _PATCH["saved"].append((cls, original))
                cls._map = _ghost_map(original)
        _PATCH["depth"] += 1
    try:
        yield
    finally:
        with _PATCH["lock"]:
            _PATCH["depth"] -= 1
            if _PATCH["depth"] == 0:
                for cls, original in _PATCH["saved"]:
                    cls._map = original
                _PATCH["saved"].clear()


# ---- running -------------------------------------------------------------------------------
class DryResult:
    def __init__(self, value, ledger, protocol):
        self.value = value
        self.ledger = ledger
        self.protocol = protocol
        self._ops = [DryOp(*key, count) for key, count in ledger.counts.items()]

    @property
    def n_parties(self):
        return self.ledger.n_parties

    def ops(self, prefix=(), stages=None):
        """Aggregated top-level ops under a label prefix (and in `stages`)."""
        prefix = tuple(prefix)
        return [o for o in self._ops if o.path[:len(prefix)] == prefix
                and (stages is None or o.stage in stages)]

    def summary(self, prefix=()):
        """As mpcore.ledger.summarize, from declared costs."""
        ops = self.ops(prefix)
        n = self.n_parties
        bytes_sent = [sum(o.bytes_sent[p] * o.count for o in ops) for p in range(n)]
        return {"rounds": sum(o.rounds * o.count for o in ops), "bytes_sent": bytes_sent,
                "bytes_sent_total": sum(bytes_sent), "messages_sent": None,
                "ops": sum(o.count for o in ops)}

    @property
    def upload_bytes(self):
        return sum(self.ledger.upload_bytes)


def dry_payload(protocol_cls, size):
    """Dry stand-in for the dry party's payload of
    `protocol_cls.share_external(value)` with `size` elements: the shape and
    EVERY party's upload bytes (learned from the payload structure of a
    one-element sharing)."""
    probe = protocol_cls.share_external(np.zeros(1, np.uint64))
    per_party = tuple(sum(len(d) if kind == "seed" else ELEMENT_BYTES * int(size)
                          for kind, d in pl["slots"]) for pl in probe)
    return {"shape": (int(size),), "slots": None, "dry_upload_bytes": per_party}


def run_dry(program, protocol="rep3", *, args=(), options=None, party_id=0,
            fixed_point=DEFAULT_FX):
    """Run `program(proto, *args)` on the dry variant of `protocol` for one
    party (the cost of all parties comes from the declared costs). The
    program's value is returned in `.value` (revealed values are zeros)."""
    from . import protocol_class
    cls = dry(protocol_class(protocol))
    ledger = DryLedger(party_id, cls.n_parties)
    session = DrySession(party_id, cls.n_parties, ledger, fixed_point)
    with ghost_values():
        proto = cls(session, **(options or {}))
        ledger.stage = "program"
        try:
            value = program(proto, *args)
        except TypeError as exc:
            if "ufunc" in str(exc) or "dtype" in str(exc):
                raise DryRunError(f"dry run: the program computed on a secret value outside an "
                                  f"op and outside Shared._map ({exc}); it cannot be dry-run") from exc
            raise
        ledger.stage = "finish"
        proto.finish()
    return DryResult(value, ledger, cls.name)
