"""Microbenchmark of protocol primitives (`safenet bench primitives`).

Every party runs the same program; inputs are shared first (not timed).
Each repetition starts after a one-element all-to-all synchronisation (not
counted), then times the op on every party; a repetition's time is the
slowest party's. bytes/messages/rounds come from the ledger of the first
repetition, merged over parties, and are compared with the op's declared
cost. The last result is revealed and checked against numpy.
Imports mpcore, protocols, numpy.
"""
import time

import numpy as np

import protocols
from mpcore.fixedpoint import DEFAULT as FX
from mpcore.ledger import merge, summarize
from mpcore.progress import progress

DEFAULT_N = {"mul": 1_000_000, "trunc": 1_000_000, "fxmul": 100_000,
             "ltz": 100_000, "relu": 100_000, "argmax": 10_000}
DEFAULT_SHAPE = (128, 784, 128)
MATRIX_OPS = ("matmul", "fxmatmul")
ALL_OPS = ("mul", "matmul", "trunc", "fxmul", "fxmatmul", "ltz", "relu", "argmax")
ARGMAX_WIDTH = 10


def _sar(x, d):
    return (x.view(np.int64) >> np.int64(d)).view(np.uint64)


class Spec:
    """One benchmarked op: input shapes, the secure call, the oracle."""

    def __init__(self, op, n=None, shape=None):
        self.op = op
        if op in MATRIX_OPS:
            a, b, c = shape or DEFAULT_SHAPE
            self.shape = (a, b, c)
            self.input_shapes = [(a, b), (b, c)]
            self.n = a * c
        elif op == "argmax":
            self.n = n or DEFAULT_N[op]
            self.shape = (self.n, ARGMAX_WIDTH)
            self.input_shapes = [self.shape]
        else:
            self.n = n or DEFAULT_N[op]
            self.shape = (self.n,)
            self.input_shapes = [self.shape] * (2 if op in ("mul", "fxmul") else 1)

    def make_inputs(self, seed):
        rng = np.random.default_rng(seed)
        if self.op in ("mul", "matmul"):
            return [rng.integers(0, 2**64, size=s, dtype=np.uint64) for s in self.input_shapes]
        if self.op == "trunc":
            # the encoded fixed-point range: a wrap (probability 2^-34 per
            # element) would show up as a wrong result
            bound = 2 ** FX.encoded_bits
            return [rng.integers(-bound + 1, bound, size=s).view(np.uint64)
                    for s in self.input_shapes]
        # fixed-point ops: values in [-1, 1)
        return [FX.encode(rng.uniform(-1, 1, size=s)) for s in self.input_shapes]

    def run(self, proto, xs):
        if self.op == "mul":
            return proto.mul(*xs)
        if self.op == "matmul":
            return proto.matmul(*xs)
        if self.op == "trunc":
            return proto.trunc(xs[0], FX.frac_bits)
        if self.op == "fxmul":
            return proto.fxmul(*xs)
        if self.op == "fxmatmul":
            return proto.fxmatmul(*xs)
        if self.op == "ltz":
            return proto.ltz(xs[0])
        if self.op == "relu":
            return proto.relu(xs[0])
        if self.op == "argmax":
            return proto.argmax(xs[0])
        raise ValueError(self.op)

    def check(self, inputs, got):
        """Correctness against numpy (truncations may be one below the floor)."""
        if self.op == "mul":
            return np.array_equal(got, inputs[0] * inputs[1])
        if self.op == "matmul":
            import safenet_native
            return np.array_equal(got, safenet_native.matmul(inputs[0], inputs[1]))
        if self.op in ("trunc", "fxmul", "fxmatmul"):
            if self.op == "trunc":
                exact = _sar(inputs[0], FX.frac_bits)
            elif self.op == "fxmul":
                exact = _sar(inputs[0] * inputs[1], FX.frac_bits)
            else:
                import safenet_native
                exact = _sar(safenet_native.matmul(inputs[0], inputs[1]), FX.frac_bits)
            diff = (exact - got).view(np.int64)
            return bool(np.all((diff == 0) | (diff == 1)))
        x = inputs[0].view(np.int64)
        if self.op == "ltz":
            return np.array_equal(got, (x < 0).astype(np.uint64))
        if self.op == "relu":
            return np.array_equal(got.view(np.int64), np.maximum(x, 0))
        if self.op == "argmax":
            return np.array_equal(got.ravel(), np.argmax(x, axis=-1).astype(np.uint64))
        raise ValueError(self.op)


def _sync(proto):
    net = proto.net
    with proto.ledger.op("sync"):
        for p in net.peers():
            net.send(p, np.zeros(1, np.uint64))
        for p in net.peers():
            net.recv(p, 1)


def _program(proto, specs, repeat, seed, progress_parties="party0", quiet=None):
    out = []
    if progress_parties == "party0" and proto.party_id != 0:
        quiet = True          # the parties share one terminal: party 0 reports
    label = f"party {proto.party_id}: bench primitives"
    for k, spec in enumerate(progress(specs, label, quiet=quiet)):
        inputs = spec.make_inputs(seed + k) if proto.party_id == 0 else None
        with proto.ledger.scope(f"inputs:{spec.op}"):
            xs = [proto.input(inputs[j] if inputs else None, 0, s)
                  for j, s in enumerate(spec.input_shapes)]
        times = []
        result = None
        for r in range(repeat):
            _sync(proto)
            t0 = time.perf_counter()
            with proto.ledger.scope(f"bench:{spec.op}:{r}"):
                result = spec.run(proto, xs)
            times.append(time.perf_counter() - t0)
        with proto.ledger.scope(f"check:{spec.op}"):
            revealed = proto.reveal(result)
        correct = bool(spec.check(inputs, revealed)) if proto.party_id == 0 else None
        out.append({"times": times, "correct": correct})
    return out


def run_primitives(protocol="rep3", ops=("mul", "matmul", "trunc", "fxmul", "fxmatmul"),
                   transport="tcp", n=None, shape=None, repeat=5, semi_honest=False,
                   seed=0, timeout=300.0, runner=None, quiet=None):
    """Run the benchmark; returns the list of result dicts of cli.md.
    runner: extra protocols.run keyword arguments (e.g. hosts, party_id);
    quiet: progress display (None: the process-wide setting)."""
    for op in ops:
        if op not in ALL_OPS:
            raise ValueError(f"unknown op {op!r}; choose from {', '.join(ALL_OPS)}")
        if not hasattr(protocols.protocol_class(protocol), op):
            raise ValueError(f"protocol {protocol} does not implement {op!r} yet")
    specs = [Spec(op, n, shape) for op in ops]
    options = {"check": False} if semi_honest else None
    if semi_honest and not protocols.protocol_class(protocol).actively_secure:
        options = None   # already semi-honest
    run_kw = {"transport": transport, "processes": transport == "tcp", "timeout": timeout}
    run_kw.update(runner or {})
    hosted = run_kw.get("hosts") is not None
    res = protocols.run(_program, protocol,
                        args=(specs, repeat, seed, "all" if hosted else "party0", quiet),
                        options=options, **run_kw)
    complete = all(l is not None for l in res.ledgers)
    me = res.party_id
    merged = res.merged if complete else merge([res.ledgers[me]])
    if hosted:
        transport = "tcp"
    results = []
    for k, spec in enumerate(specs):
        per_party = [v[k]["times"] for v in res.values if v is not None]
        seconds = [max(ts[r] for ts in per_party) for r in range(repeat)]
        if hosted and complete:   # other parties' clocks: their op times in the ledgers
            for r in range(repeat):
                rep_ops = [m for m in merged
                           if m.depth == 0 and m.path[:1] == (f"bench:{spec.op}:{r}",)]
                seconds[r] = max(seconds[r], sum(m.seconds for m in rep_ops))
        first = summarize(merged, (f"bench:{spec.op}:0",))
        if not complete:          # this party's own view: its bytes at its index
            own = first
            first = dict(own)
            for key in ("bytes_sent", "messages_sent"):
                first[key] = [own[key][0] if p == me else None for p in range(len(res.ledgers))]
        declared = None
        ops_in_rep = [m for m in merged if m.depth == 0 and m.path[:1] == (f"bench:{spec.op}:0",)]
        if ops_in_rep and all(m.declared is not None for m in ops_in_rep):
            total = ops_in_rep[0].declared
            for m in ops_in_rep[1:]:
                total = total + m.declared
            declared = {"rounds": total.rounds, "elements_sent": list(total.elements_sent),
                        "bytes_sent": list(total.bytes_sent())}
        med = float(np.median(seconds))
        results.append({
            "op": spec.op, "protocol": protocol, "transport": transport, "n": spec.n,
            "shape": list(spec.shape), "seconds": seconds, "median_seconds": med,
            "ops_per_second": spec.n / med if med > 0 else None,
            "bytes_sent": first["bytes_sent"], "messages_sent": first["messages_sent"],
            "rounds": first["rounds"], "declared": declared,
            "cost_matches_declared": (declared is not None
                                      and declared["bytes_sent"] == first["bytes_sent"]
                                      and declared["rounds"] == first["rounds"]) if complete else None,
            "correct": res.values[0][k]["correct"] if res.values[0] is not None else None,
            "semi_honest": bool(semi_honest),
        })
        if hosted:
            results[-1].update({"tls": bool(run_kw["hosts"].tls), "party": me,
                                "complete": complete})
    return results
