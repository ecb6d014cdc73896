"""`safenet bench calibrate`: fit the time model of bench.timemodel on this
machine. Every op the protocols declare is timed at a grid of sizes (one
call right after a sync of the parties, median of repeats), per protocol
and transport, and a + b*elements (+ c*flops) is fitted by least squares;
`calibrate_workload` times only the ops and sizes one workload uses (1-3 s,
for same-session checks, bench.validate_estimate). Imports mpcore,
protocols, ensemble.models, bench.meta, bench.timemodel.
"""
import time

import numpy as np

from .timemodel import (CALIBRATION_WIDTH, FORMULA, MATRIX_OPS, REFIT_COMMAND, TOURNAMENT_OPS,
                        TimeModel, _levels, default_path)

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
