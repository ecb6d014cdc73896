"""The time model of `--estimate`: wall seconds of a run from its top-level
ops (a dry run, protocols.dryrun), fitted on this machine by
`safenet bench calibrate`. Imports mpcore, protocols, ensemble.models,
bench.meta, bench.primitives.

Formula, for every top-level op of the program (all parties run it at once):

    T(op) = a + b * elements + c * flops          this machine, transport T
          + rounds * L + max_p bytes_p / B        the user's network on top

* a, b, c: fitted per protocol, transport (tcp: parties as processes on
  loopback, the CLI's default; memory: threads) and op name, on the wall
  time of the op with every party running it (so the parties' contention
  for this machine's cores, and the transport's own loopback latency and
  copying, are inside them). `elements` is the op's size (output elements
  of elementwise ops and matrix products, input elements of reductions),
  `flops` the multiply-adds of matrix products. Every timing is one call
  right after a sync of the parties (an op's latency in a chain of
  dependent ops, as programs run them; back-to-back bursts of the same op
  measure a throughput, 25-35% less for one-round ops). An op never
  calibrated is priced from `mul`'s coefficients: rounds * a_mul +
  b_mul * (bytes of the busiest party / 8), plus the matrix ops' c * flops
  (local ops: `add`'s); such ops are listed under basis.uncalibrated_ops.
* L, B: the user's network (--latency, --bandwidth; mpcore.netsim's model:
  one-way delay per message, one uplink of B bytes/s per party shared by
  its messages; B = 0 means unlimited), added to the loopback. Without
  them the network is this machine's loopback, whose one-way latency
  lambda_T (an all-to-all exchange of one element) and per-party rate
  beta_T (an all-to-all exchange of 8 MB per link) are measured and
  reported (JSON "network"), already inside a, b, c.
Assumptions: ops run one after another and every round costs the full
latency (a party that only sends can run ahead of the others, so WAN
predictions err on the slow side); the busiest party's bytes bound an op;
local work between ops (reshapes, concatenations outside ops) is not priced
(measured: under 2% of a phase); compute is linear in size between and
beyond the calibrated sizes (up to 3e5 elements, 1e8 multiply-adds); the
argmax-family ops and softmax are fitted at width 10 (n_classes of MNIST):
other widths are scaled by their number of tournament levels.

Owners' local training (ensemble mode, cleartext numpy SGD) is priced by
seconds = per_call + per_batch * batches + per_mac * multiply-adds (per
kind, logreg / mlp); the slowest owner counts (they train in parallel).

Parameters live in a JSON file (`default_path()`: $SAFENET_TIMEMODEL, or
$XDG_CACHE_HOME/safenet/timemodel.json, ~/.cache/... by default) with the
machine's metadata (git commit, CPU, cores); `safenet bench calibrate`
(re)writes it. Without it the built-in DEFAULTS (fitted on the development
machine, 2 cores) are used, and the basis of every estimate says so.
"""
import json
import math
import os
import time

import numpy as np

FORMULA = ("T(op) = a + b*elements + c*flops (fitted on this machine's transport) "
           "+ rounds*L + max_party_bytes/B (user network); phase = sum over its top-level ops")
TOURNAMENT_OPS = ("argmax", "argmax_onehot", "max", "softmax")
MATRIX_OPS = ("fxmatmul", "matmul_many", "fxprod")
CALIBRATION_WIDTH = 10
REFIT_COMMAND = "safenet bench calibrate"


def default_path():
    env = os.environ.get("SAFENET_TIMEMODEL")
    if env:
        return env
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "safenet", "timemodel.json")


def _levels(k):
    return max(1, math.ceil(math.log2(max(int(k), 2))))


class TimeModel:
    def __init__(self, doc, source):
        self.doc = doc
        self.source = source

    # ---- loading ---------------------------------------------------------------------
    @classmethod
    def load(cls, path=None):
        """The model at `path`, else at default_path(), else the built-in
        defaults."""
        p = path or default_path()
        if os.path.exists(p):
            with open(p) as f:
                return cls(json.load(f), p)
        if path:
            raise FileNotFoundError(f"time model {path} not found (write it with "
                                    f"`{REFIT_COMMAND} --out {path}`)")
        return cls(DEFAULTS, "built-in defaults")

    def save(self, path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.doc, f, indent=1)
        self.source = path

    # ---- parameters --------------------------------------------------------------------
    def _transport(self, transport):
        tr = self.doc["transports"]
        if transport in tr:
            return tr[transport]
        return tr.get("tcp") or next(iter(tr.values()))

    def transport_network(self, transport="tcp"):
        t = self._transport(transport)
        return t["latency_s"], t["bandwidth_Bps"]

    def _coefs(self, protocol, transport, name):
        ops = self._transport(transport)["ops"].get(protocol) or {}
        return ops.get(name), ops

    def op_seconds(self, protocol, transport, op, network=None):
        """Predicted seconds of ONE op (a protocols.dryrun.DryOp)."""
        L = network.latency_s if network is not None else 0.0
        B = network.bandwidth_Bps if network is not None else 0.0
        return (self.compute_seconds(protocol, transport, op) + op.rounds * L
                + (op.max_bytes / B if B else 0.0))

    def compute_seconds(self, protocol, transport, op):
        """a + b*elements + c*flops of the op's calibration. An op called with
        `method=` uses the calibration of that variant if there is one; the
        `bits=` keyword (and an uncalibrated variant) scale a by the ratio of
        declared rounds and b, c by the ratio of declared bytes, against the
        same call without them (protocols.dryrun records both)."""
        _, ops = self._coefs(protocol, transport, op.name)
        coef = ops.get(f"{op.name}[{op.variant}]") if op.variant else None
        ref = op.ref if coef is not None else op.ref_plain
        if coef is None:
            coef = ops.get(op.name)
        if coef is not None:
            n = op.elements
            if op.width and op.name in TOURNAMENT_OPS:
                if not op.variant:        # fitted at width 10: scale by tournament levels
                    n = n * _levels(op.width) / _levels(CALIBRATION_WIDTH)
                elif "pairwise" in op.variant:   # C(k, 2) comparisons per row of k
                    n = n * (op.width - 1) / (CALIBRATION_WIDTH - 1)
            fixed, per = coef["a"], coef["b"] * n + coef.get("c", 0.0) * op.flops
            if ref and tuple(ref) != (op.rounds, op.max_bytes):
                if ref[0]:
                    fixed *= op.rounds / ref[0]
                if ref[1]:
                    per *= op.max_bytes / ref[1]
            return fixed + per
        if op.name in ("setup",):
            return 0.0
        if op.rounds == 0 and not any(op.bytes_sent):
            base = ops.get("add") or {"a": 0.0, "b": 0.0}
            return base["a"] + base["b"] * op.elements
        base = ops.get("mul")
        if base is None:            # nothing calibrated: the transport alone
            lat, bw = self.transport_network(transport)
            return op.rounds * lat + op.max_bytes / bw
        mm = next((ops[k] for k in MATRIX_OPS if k in ops), {})
        return (op.rounds * base["a"] + base["b"] * op.max_bytes / 8
                + mm.get("c", 0.0) * op.flops)

    def ops_seconds(self, protocol, transport, ops, network=None):
        return sum(self.op_seconds(protocol, transport, o, network) * o.count for o in ops)

    def local_training_seconds(self, kind, n, epochs, batch_size, layer_sizes):
        """Owners' cleartext SGD (ensemble.models.train_model) on n points."""
        c = self.doc["local_training"].get(kind) or self.doc["local_training"]["mlp"]
        batches = epochs * -(-int(n) // int(batch_size))
        macs = epochs * int(n) * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
        return c.get("per_call_s", 0.0) + c["per_batch_s"] * batches + c["per_mac_s"] * macs

    # ---- description ---------------------------------------------------------------------
    def network_dict(self, transport, network=None):
        if network is not None and network.active:
            return {"latency_s": network.latency_s, "bandwidth_Bps": network.bandwidth_Bps,
                    "emulated_over": f"{transport} loopback"}
        lat, bw = self.transport_network(transport)
        return {"latency_s": lat, "bandwidth_Bps": bw, "emulated_over": None}

    def basis(self, protocol, transport, network, op_names):
        _, ops = self._coefs(protocol, transport, "")
        missing = sorted({n for n in op_names if n.split("[")[0] not in ops and n != "setup"})
        meta = self.doc.get("meta", {})
        out = {"bytes_and_rounds": "exact: declared op costs of a dry run of the same program "
                                   "(protocols.dryrun)",
               "time_model": self.source, "formula": FORMULA, "transport": transport,
               "calibrated": {k: meta.get(k) for k in ("git_commit", "cpu_model", "cores",
                                                         "time_utc")},
               "refit": REFIT_COMMAND, "uncalibrated_ops": missing}
        from .meta import cpu_model
        if meta.get("cpu_model") != cpu_model() or meta.get("cores") != os.cpu_count():
            out["warning"] = "time model fitted on another machine; refit with " + REFIT_COMMAND
        if not ops:
            out["warning"] = f"no calibration for {protocol} over {transport}; refit with {REFIT_COMMAND}"
        return out


# =====================================================================================
# calibration
# =====================================================================================
SIZES = (1_000, 10_000, 100_000, 300_000)       # elements
HEAVY_SIZES = (1_000, 10_000, 100_000)          # tournament ops, softmax: elements
MATMUL_SHAPES = ((32, 64, 32), (128, 784, 128), (256, 64, 1024), (512, 784, 256))


def _fx(rng, shape):
    from mpcore.fixedpoint import DEFAULT as FX
    return FX.encode(rng.uniform(-1, 1, size=shape))


class _Spec:
    """One calibrated op: input shapes per size, and the call."""

    def __init__(self, name, shapes, call, sizes=SIZES, payload=False):
        self.name, self.shapes, self.call, self.sizes, self.payload = name, shapes, call, sizes, payload


def _rows(n):
    return (max(1, n // CALIBRATION_WIDTH), CALIBRATION_WIDTH)


def _specs(protocol_cls):
    two = lambda n: [(n,), (n,)]          # noqa: E731
    one = lambda n: [(n,)]                # noqa: E731
    specs = [
        _Spec("add", two, lambda p, a: p.add(a[0], a[1])),
        _Spec("sub", two, lambda p, a: p.sub(a[0], a[1])),
        _Spec("neg", one, lambda p, a: p.neg(a[0])),
        _Spec("mul_public", one, lambda p, a: p.mul_public(a[0], 3)),
        _Spec("add_public", one, lambda p, a: p.add_public(a[0], 3)),
        _Spec("sum", lambda n: [_rows(n)], lambda p, a: p.sum(a[0], axis=0)),
        _Spec("mul", two, lambda p, a: p.mul(a[0], a[1])),
        _Spec("trunc", one, lambda p, a: p.trunc(a[0], 16)),
        _Spec("reveal", one, lambda p, a: p.reveal(a[0])),
        _Spec("receive_external", one, None, payload=True),
        _Spec("dot", lambda n: [(4, max(1, n // 4)), (1, max(1, n // 4))],
              lambda p, a: p.dot(a[0], a[1])),
        _Spec("ltz", one, lambda p, a: p.ltz(a[0])),
        _Spec("drelu", one, lambda p, a: p.drelu(a[0])),
        _Spec("relu", one, lambda p, a: p.relu(a[0])),
        _Spec("argmax", lambda n: [_rows(n)], lambda p, a: p.argmax(a[0]), HEAVY_SIZES),
        _Spec("argmax_onehot", lambda n: [_rows(n)], lambda p, a: p.argmax_onehot(a[0]),
              HEAVY_SIZES),
        _Spec("softmax", lambda n: [_rows(n)], lambda p, a: p.softmax(a[0]), HEAVY_SIZES),
        _Spec("argmax[method=pairwise]", lambda n: [_rows(n)],
              lambda p, a: p.argmax(a[0], method="pairwise"), HEAVY_SIZES),
        _Spec("argmax_onehot[method=pairwise]", lambda n: [_rows(n)],
              lambda p, a: p.argmax_onehot(a[0], method="pairwise"), HEAVY_SIZES),
        _Spec("ltz_mul", two, lambda p, a: p.ltz_mul(a[0], a[1])),
        _Spec("fxprod", lambda s: [(s[0], s[1]), (s[1], s[2]), (s[0], s[2])],
              lambda p, a: p.fxprod(_fxterms(a)), MATMUL_SHAPES),
        _Spec("fxmatmul", lambda s: [(s[0], s[1]), (s[1], s[2])],
              lambda p, a: p.fxmatmul(a[0], a[1]), MATMUL_SHAPES),
        _Spec("matmul_many", lambda s: [(s[0], s[1]), (s[1], s[2])] * 2,
              lambda p, a: p.matmul_many([(a[0], a[1]), (a[2], a[3])]), MATMUL_SHAPES),
    ]
    return [s for s in specs if _supports(protocol_cls, s.name)]


def _fxterms(a):
    """A matrix product and a scaled copy (SGD's momentum term) in one fxprod."""
    from protocols.base import FxTerm
    return [FxTerm("matmul", a[0], a[1]), FxTerm("lin", a[2], scale=3)]


def _supports(protocol_cls, key):
    """The protocol has the op (a method with an op_name; and, for
    "op[kw=v]", the keyword)."""
    import inspect
    name, _, variant = key.partition("[")
    fn = getattr(protocol_cls, name, None)
    if fn is None or getattr(fn, "op_name", None) is None:
        return False
    if variant:
        kw = variant.split("=")[0]
        try:
            return kw in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return False
    return True


def _features(spec, size):
    if spec.name == "fxmatmul":
        a, b, c = size
        return a * c, a * b * c
    if spec.name == "fxprod":
        a, b, c = size
        return 2 * a * c, a * b * c
    if spec.name == "matmul_many":
        a, b, c = size
        return 2 * a * c, 2 * a * b * c
    shapes = spec.shapes(size)
    return max(int(np.prod(s)) for s in shapes), 0


def _calibration_program(proto, cases, repeat, payloads, seed):
    from .primitives import _sync
    rng = np.random.default_rng(seed)
    out = {"latency": [], "bulk": []}
    # transport: all-to-all exchanges of 1 element (latency) and 2^20 elements (rate)
    net = proto.net
    for label, n, reps in (("latency", 1, 50), ("bulk", 1 << 20, 3)):
        data = np.zeros(n, np.uint64)
        for _ in range(reps):
            _sync(proto)
            t0 = time.perf_counter()
            with proto.ledger.op(label):
                for p in net.peers():
                    net.send(p, data)
                for p in net.peers():
                    net.recv(p, n)
            out[label].append(time.perf_counter() - t0)
    inputs = []
    for k, (spec, size) in enumerate(cases):
        with proto.ledger.scope(f"inputs:{k}"):
            if spec.payload:
                inputs.append(payloads[k])
            else:
                inputs.append([proto.input(_fx(rng, s) if proto.party_id == 0 else None, 0, s)
                               for s in spec.shapes(size)])
    # repetitions interleaved over the cases (a slow spell of a shared machine
    # spreads over all ops instead of biasing one). Every repetition is ONE
    # call right after a sync: the latency of an op as a program's chain of
    # dependent ops sees it (parties woken by the op's first message, skewed
    # by what came before). Bursts of back-to-back calls of the same op, used
    # before, measure a throughput instead (parties stay in phase and awake):
    # for the one-round ops (fxprod, matmul_many, trunc, mul) 25-35% below a
    # single call and about half of what they cost inside a training loop
    # (measured on 2 cores), which made training underpredicted by 10-25%.
    times = [[] for _ in cases]
    for r in range(repeat):
        for k, (spec, size) in enumerate(cases):
            _sync(proto)
            t0 = time.perf_counter()
            with proto.ledger.scope(f"cal:{k}:{r}"):
                if spec.payload:
                    proto.receive_external(inputs[k])
                else:
                    spec.call(proto, inputs[k])
            times[k].append(time.perf_counter() - t0)
    out["cases"] = times
    return out


def _fit(rows, use_flops):
    """Non-negative least squares of relative errors: t = a + b n (+ c f)."""
    from scipy.optimize import nnls
    A = np.array([[1.0, n] + ([f] if use_flops else []) for n, f, _ in rows])
    y = np.array([t for _, _, t in rows])
    w = 1.0 / np.maximum(y, 2e-5)
    scale = np.maximum(np.abs(A).max(axis=0), 1e-30)
    coef, _ = nnls(A * w[:, None] / scale, y * w)
    coef = coef / scale
    out = {"a": float(coef[0]), "b": float(coef[1])}
    if use_flops:
        out["c"] = float(coef[2])
    pred = A @ coef
    out["max_rel_error"] = float(np.max(np.abs(pred - y) / np.maximum(y, 1e-9)))
    return out


def calibrate_protocol(protocol, transport="tcp", repeat=3, seed=0, quick=False, progress=None,
                       ops=None, sizes=None):
    """Fit one protocol over one transport (only `ops` if given); returns
    (transport params, {op: coefficients}). quick: every other size.
    sizes: {op: [calibration sizes]} overriding an op's own grid (see
    workload_sizes)."""
    import protocols
    cls = protocols.protocol_class(protocol)
    cases = []
    for spec in _specs(cls):
        if ops is not None and spec.name not in ops:
            continue
        if sizes is not None and spec.name in sizes:
            cases += [(spec, s) for s in sizes[spec.name]]
            continue
        last = len(spec.sizes) - 1
        grid = [s for i, s in enumerate(spec.sizes) if not quick or i % 2 == 0 or i == last]
        cases += [(spec, s) for s in grid]
    payloads = [[None] * len(cases) for _ in range(cls.n_parties)]
    for k, (spec, size) in enumerate(cases):
        if spec.payload:
            pl = cls.share_external(np.zeros(size, np.uint64))
            for i in range(cls.n_parties):
                payloads[i][k] = pl[i]
    t0 = time.perf_counter()
    res = protocols.run(_calibration_program, protocol, args=(cases, repeat),
                        party_args=[(payloads[i], seed) for i in range(cls.n_parties)],
                        transport=transport, processes=transport == "tcp", timeout=600.0)
    vals = res.values

    def wall(key, i):
        return max(v[key][i] for v in vals)
    lat = float(np.median([wall("latency", i) for i in range(len(vals[0]["latency"]))]))
    bulk = float(np.median([wall("bulk", i) for i in range(len(vals[0]["bulk"]))]))
    per_party_bytes = (cls.n_parties - 1) * 8 * (1 << 20)
    bw = per_party_bytes / max(bulk - lat, 1e-6)
    rows = {}
    for k, (spec, size) in enumerate(cases):
        secs = [max(v["cases"][k][r] for v in vals) for r in range(repeat)]
        n, f = _features(spec, size)
        rows.setdefault(spec.name, []).append((n, f, float(np.median(secs))))
    ops = {name: _fit(r, name in MATRIX_OPS) for name, r in rows.items()}
    if progress:
        progress(f"{protocol} over {transport}: {len(cases)} cases in {time.perf_counter() - t0:.1f} s")
    return {"latency_s": lat, "bandwidth_Bps": bw}, ops


def calibration_key(op, known):
    """The calibration entry that prices a dry-run op (as compute_seconds
    looks it up): its variant's, "op[method=...]", if that is among the
    `known` calibrated names, else the op's."""
    if op.variant and f"{op.name}[{op.variant}]" in known:
        return f"{op.name}[{op.variant}]"
    return op.name


def workload_sizes(protocol, dry_ops, min_points=2):
    """{op: calibration sizes} for the ops of a workload (top-level ops of a
    dry run, protocols.dryrun.DryOp): only the ops it uses, and of each op's
    calibration grid the sizes that span the workload's sizes (the largest
    grid size at or below its smallest size up to the smallest grid size at
    or above its largest; at least `min_points`, 3 for matrix products,
    which fit a, b and c). The workload's ops then lie inside the
    calibrated range: the same model (a + b*n + c*f, fitted on the grid),
    on the sizes that matter, in a few seconds instead of minutes."""
    import protocols
    cls = protocols.protocol_class(protocol)
    specs = {s.name: s for s in _specs(cls)}
    used = {}
    for o in dry_ops:
        key = calibration_key(o, specs)
        if key not in specs:
            continue
        spec = specs[key]
        n = o.elements
        if o.width and o.name in TOURNAMENT_OPS and not o.variant:
            n = n * _levels(o.width) / _levels(CALIBRATION_WIDTH)
        measure = o.flops if key in MATRIX_OPS else n
        used.setdefault(key, []).append(measure)
    out = {}
    for key, measures in used.items():
        spec = specs[key]
        grid = list(spec.sizes)
        at = [(_features(spec, s)[1] if key in MATRIX_OPS else _features(spec, s)[0]) for s in grid]
        lo, hi = min(measures), max(measures)
        i0 = max([i for i, m in enumerate(at) if m <= lo], default=0)
        i1 = min([i for i, m in enumerate(at) if m >= hi], default=len(grid) - 1)
        need = max(min_points, 3 if key in MATRIX_OPS else 2)
        while i1 - i0 + 1 < min(need, len(grid)):
            if i1 < len(grid) - 1:
                i1 += 1
            else:
                i0 -= 1
        out[key] = grid[i0:i1 + 1]
    return out


def calibrate_workload(protocol, dry_ops, transport="tcp", repeat=5, seed=0, base=None,
                       progress=None):
    """A TimeModel fitted now, on this machine in its present state, for one
    workload: the ops of `dry_ops` (top-level ops of dry runs; several
    workloads' ops may be concatenated) at the sizes of workload_sizes, by
    the same calibration as `safenet bench calibrate` (calibrate_protocol),
    restricted: 1-3 s on 2 cores instead of minutes. A prediction for that
    workload then rests on op times measured under the same load as a run
    started right after it ("ratios measured in the same run": what
    bench.validate_estimate.same_session and tests/bench/test_estimate_lan.py
    compare). Everything else (other protocols and transports, owners' local
    training) is copied from `base` (default: TimeModel.load()); the JSON
    format is that of a full calibration, with meta.workload_calibration."""
    import copy
    from .meta import collect
    base = base or TimeModel.load()
    sizes = workload_sizes(protocol, dry_ops)
    t0 = time.perf_counter()
    net, ops = calibrate_protocol(protocol, transport, repeat, seed, ops=set(sizes), sizes=sizes,
                                  progress=progress)
    doc = copy.deepcopy(base.doc)
    doc["meta"] = collect({"protocols": [protocol], "transports": [transport], "repeat": repeat,
                           "workload_sizes": {k: [list(s) if isinstance(s, tuple) else s
                                                  for s in v] for k, v in sizes.items()}})
    doc["meta"]["workload_calibration_s"] = time.perf_counter() - t0
    entry = doc["transports"].setdefault(transport, {"ops": {}})
    entry["latency_s"], entry["bandwidth_Bps"] = net["latency_s"], net["bandwidth_Bps"]
    entry.setdefault("ops", {})[protocol] = ops
    return TimeModel(doc, f"calibrated for the workload ({protocol} over {transport}, "
                          f"{doc['meta']['time_utc']})")


def calibrate_local_training(seed=0):
    """Fit the owners' cleartext trainer (ensemble.models.train_model):
    seconds = per_call + per_batch * batches + per_mac * multiply-adds."""
    from ensemble.models import train_model
    rng = np.random.default_rng(seed)
    out = {}
    for kind, hidden in (("logreg", ()), ("mlp", (64,))):
        rows = []
        for n, d, epochs in ((100, 64, 1), (600, 64, 2), (2000, 64, 1), (1000, 784, 1),
                             (3000, 784, 1)):
            X = rng.normal(size=(n, d))
            y = rng.integers(0, 10, size=n)
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                train_model(X, y, 10, kind=kind, hidden=hidden or (64,), epochs=epochs,
                            batch_size=32)
                ts.append(time.perf_counter() - t0)
            sizes = (d,) + tuple(hidden) + (10,)
            macs = epochs * n * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
            rows.append((epochs * -(-n // 32), macs, float(np.median(ts))))
        fit = _fit(rows, use_flops=True)
        out[kind] = {"per_call_s": fit["a"], "per_batch_s": fit["b"], "per_mac_s": fit["c"],
                     "max_rel_error": fit["max_rel_error"]}
    return out


def calibrate(protocols_=("rep3", "rep4"), transports=("tcp", "memory"), repeat=7, quick=False,
              progress=print):
    """Fit everything; returns the JSON document (see the module docstring)."""
    from .meta import collect
    doc = {"version": 1, "formula": FORMULA, "refit": REFIT_COMMAND,
           "meta": collect({"protocols": list(protocols_), "transports": list(transports),
                            "repeat": repeat, "quick": quick}),
           "transports": {}, "local_training": calibrate_local_training()}
    import protocols
    for tr in transports:
        entry = {"ops": {}}
        for proto in protocols_:
            protocols.protocol_class(proto)          # a clear error for an unknown name
            net, ops = calibrate_protocol(proto, tr, repeat, quick=quick, progress=progress)
            entry["ops"][proto] = ops
            entry.setdefault("latency_s", net["latency_s"])
            entry.setdefault("bandwidth_Bps", net["bandwidth_Bps"])
        doc["transports"][tr] = entry
    return doc


# Fitted on the development machine by `safenet bench calibrate` (meta below);
# replaced by the user's own calibration file when there is one.
DEFAULTS = {
    "version": 1,
    "meta": {"git_commit": "3e3293bac8c8af8dab53902d03c2a463501af417", "cpu_model": "AMD EPYC",
             "cores": 2, "python": "3.11.7", "numpy": "2.4.6", "time_utc": "2026-11-22T06:32:57Z",
             "calibration": "one call per timing, after a sync of the parties"},
    "transports": {
        "tcp": {"latency_s": 9.97e-05, "bandwidth_Bps": 1029000000.0, "ops": {
            "rep3": {
                "add": {"a": 2.697e-05, "b": 1.847e-09},
                "sub": {"a": 2.363e-05, "b": 1.859e-09},
                "neg": {"a": 1.508e-05, "b": 1.076e-09},
                "mul_public": {"a": 3.016e-05, "b": 9.046e-10},
                "add_public": {"a": 2.081e-05, "b": 1.032e-09},
                "sum": {"a": 3.487e-05, "b": 2.264e-09},
                "mul": {"a": 0.0002694, "b": 1.107e-08},
                "trunc": {"a": 0.0001399, "b": 4.034e-09},
                "reveal": {"a": 0.0001731, "b": 6.881e-09},
                "receive_external": {"a": 4.292e-05, "b": 1.25e-09},
                "dot": {"a": 0.0002694, "b": 3.53e-09},
                "ltz": {"a": 0.001173, "b": 5.837e-08},
                "drelu": {"a": 0.001236, "b": 6.219e-08},
                "relu": {"a": 0.00131, "b": 7.492e-08},
                "argmax": {"a": 0.005287, "b": 1.45e-07},
                "argmax_onehot": {"a": 0.005026, "b": 2.81e-07},
                "softmax": {"a": 0.005604, "b": 1.911e-06},
                "argmax[method=pairwise]": {"a": 0.002276, "b": 3.623e-07},
                "argmax_onehot[method=pairwise]": {"a": 0.001987, "b": 3.455e-07},
                "ltz_mul": {"a": 0.001166, "b": 7.259e-08},
                "fxprod": {"a": 0.0005415, "b": 2.152e-08, "c": 9.578e-11},
                "fxmatmul": {"a": 0.0004638, "b": 1.455e-08, "c": 9.327e-11},
                "matmul_many": {"a": 0.0004119, "b": 1.234e-08, "c": 9.737e-11},
            },
            "rep4": {
                "add": {"a": 3.676e-05, "b": 3.317e-09},
                "sub": {"a": 4.066e-05, "b": 2.917e-09},
                "neg": {"a": 2.068e-05, "b": 1.89e-09},
                "mul_public": {"a": 3.202e-05, "b": 2.022e-09},
                "add_public": {"a": 2.824e-05, "b": 1.695e-09},
                "sum": {"a": 3.934e-05, "b": 3.74e-09},
                "mul": {"a": 0.0007221, "b": 5.967e-08},
                "trunc": {"a": 0.0006081, "b": 3.864e-08},
                "reveal": {"a": 0.0007061, "b": 3.431e-08},
                "receive_external": {"a": 0.0001267, "b": 2.153e-08},
                "dot": {"a": 0.0008163, "b": 1.152e-08},
                "ltz": {"a": 0.00531, "b": 3.633e-07},
                "drelu": {"a": 0.00574, "b": 3.843e-07},
                "relu": {"a": 0.006181, "b": 4.313e-07},
                "argmax": {"a": 0.02555, "b": 7.928e-07},
                "argmax_onehot": {"a": 0.02254, "b": 1.364e-06},
                "softmax": {"a": 0.02254, "b": 9.765e-06},
                "argmax[method=pairwise]": {"a": 0.01011, "b": 2.104e-06},
                "argmax_onehot[method=pairwise]": {"a": 0.009642, "b": 2.004e-06},
                "ltz_mul": {"a": 0.006353, "b": 4.53e-07},
                "fxmatmul": {"a": 0.001347, "b": 9.332e-08, "c": 3.321e-10},
                "matmul_many": {"a": 0.0008852, "b": 5.89e-08, "c": 3.052e-10},
            },
        }},
        "memory": {"latency_s": 0.0001112, "bandwidth_Bps": 8347000000.0, "ops": {
            "rep3": {
                "add": {"a": 5.002e-05, "b": 2.028e-09},
                "sub": {"a": 7.585e-05, "b": 1.728e-09},
                "neg": {"a": 2.932e-05, "b": 1.14e-09},
                "mul_public": {"a": 6.471e-05, "b": 9.958e-10},
                "add_public": {"a": 3.321e-05, "b": 1.41e-09},
                "sum": {"a": 6.43e-05, "b": 2.371e-09},
                "mul": {"a": 0.0002568, "b": 6.326e-09},
                "trunc": {"a": 0.0001471, "b": 2.366e-09},
                "reveal": {"a": 0.0001572, "b": 2.344e-09},
                "receive_external": {"a": 0.000104, "b": 9.012e-10},
                "dot": {"a": 0.0003173, "b": 2.853e-09},
                "ltz": {"a": 0.001248, "b": 4.943e-08},
                "drelu": {"a": 0.001445, "b": 5.148e-08},
                "relu": {"a": 0.001479, "b": 6.486e-08},
                "argmax": {"a": 0.006643, "b": 1.197e-07},
                "argmax_onehot": {"a": 0.006267, "b": 2.485e-07},
                "softmax": {"a": 0.007255, "b": 1.681e-06},
                "argmax[method=pairwise]": {"a": 0.004185, "b": 4.03e-07},
                "argmax_onehot[method=pairwise]": {"a": 0.002583, "b": 3.58e-07},
                "ltz_mul": {"a": 0.001464, "b": 6.34e-08},
                "fxprod": {"a": 0.0007897, "b": 1.635e-08, "c": 6.936e-11},
                "fxmatmul": {"a": 0.0004136, "b": 7.56e-09, "c": 9.444e-11},
                "matmul_many": {"a": 0.0004306, "b": 7.572e-09, "c": 8.615e-11},
            },
            "rep4": {
                "add": {"a": 0.0001272, "b": 6.531e-09},
                "sub": {"a": 0.0001207, "b": 6.4e-09},
                "neg": {"a": 9.089e-05, "b": 4.254e-09},
                "mul_public": {"a": 0.0001441, "b": 4.288e-09},
                "add_public": {"a": 0.0001145, "b": 4.066e-09},
                "sum": {"a": 0.0001968, "b": 7.369e-09},
                "mul": {"a": 0.001242, "b": 5.281e-08},
                "trunc": {"a": 0.0008632, "b": 3.286e-08},
                "reveal": {"a": 0.0004309, "b": 2.587e-08},
                "receive_external": {"a": 0.0003505, "b": 3.261e-08},
                "dot": {"a": 0.00105, "b": 9.859e-09},
                "ltz": {"a": 0.01198, "b": 5.473e-07},
                "drelu": {"a": 0.01366, "b": 6.076e-07},
                "relu": {"a": 0.01486, "b": 7.309e-07},
                "argmax": {"a": 0.05169, "b": 1.472e-06},
                "argmax_onehot": {"a": 0.04557, "b": 2.271e-06},
                "softmax": {"a": 0.05309, "b": 1.505e-05},
                "argmax[method=pairwise]": {"a": 0.03249, "b": 2.865e-06},
                "argmax_onehot[method=pairwise]": {"a": 0.02815, "b": 2.766e-06},
                "ltz_mul": {"a": 0.01874, "b": 5.827e-07},
                "fxmatmul": {"a": 0.001929, "b": 8.022e-08, "c": 3.344e-10},
                "matmul_many": {"a": 0.001646, "b": 6.141e-08, "c": 3.004e-10},
            },
        }},
    },
    "local_training": {
        "logreg": {"per_call_s": 0.0001076, "per_batch_s": 2.857e-05, "per_mac_s": 2.165e-10},
        "mlp": {"per_call_s": 0.0001375, "per_batch_s": 7.055e-05, "per_mac_s": 8.633e-11},
    },
}


def run_calibrate(args):
    """`safenet bench calibrate`: fit, write the model, print a summary."""
    doc = calibrate(tuple(args.protocols), tuple(args.transports), args.repeat, args.quick)
    path = args.out or default_path()
    TimeModel(doc, path).save(path)
    print(f"{'transport':<10} {'protocol':<9} {'op':<17} {'a (s)':>10} {'b (s/elem)':>11} "
          f"{'c (s/flop)':>11} {'fit err':>8}")
    for tr, entry in doc["transports"].items():
        for proto, ops in entry["ops"].items():
            for name, c in ops.items():
                print(f"{tr:<10} {proto:<9} {name:<17} {c['a']:>10.3g} {c['b']:>11.3g} "
                      f"{c.get('c', 0.0):>11.3g} {c['max_rel_error']:>7.0%}")
        print(f"{tr:<10} loopback: one-way latency {entry['latency_s'] * 1e6:.0f} us, "
              f"{entry['bandwidth_Bps'] / 1e6:.0f} MB/s per party")
    print(f"wrote {path}")
    return doc
