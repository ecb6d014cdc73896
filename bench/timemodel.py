"""The time model of `--estimate`: wall seconds of a run from its top-level
ops (a dry run, protocols.dryrun), fitted on this machine by
`safenet bench calibrate` (bench/calibrate.py). Imports bench.meta only.

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
