"""`safenet train --estimate` / `safenet compare --estimate`: the report of a
run predicted without running it. Imports ensemble, protocols, bench.timemodel.

Bytes and rounds come from a DRY RUN (protocols.dryrun) of the very program
a real run executes (`ensemble.secure.safenet_program`,
`ensemble.monolithic.monolithic_program`) on shape-only inputs: exact, per
party and per phase. Seconds come from the fitted time model
(bench.timemodel) applied to every top-level op of the dry run, plus the
owners' local training (cleartext, ensemble mode).

Nothing is trained and no data is secret-shared: a `Shapes` describes the
setting (owners' training and validation sizes, queries, model layers),
built from the dataset by the same split rules as a real run (the dataset is
loaded to get its labels when it can be; MNIST / Fashion-MNIST without
--data-dir fall back to the official shapes and class counts). The JSON has
the keys of a real run (cli.md) with `"estimate": true`, the `"network"`
priced, and `"basis"` (where each number comes from); what a prediction
cannot know (accuracies, attack success, models kept) is null.
"""
from dataclasses import dataclass, field

import numpy as np

from ensemble.ml.packing import Layout
from protocols import protocol_class
from protocols.dryrun import dry_payload, run_dry

from .timemodel import TimeModel

# official class counts, for MNIST / Fashion-MNIST without their files
OFFICIAL = {
    "mnist": {"d": 784, "classes": 10, "feature_shape": (28, 28),
              "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
              "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]},
    "fashion": {"d": 784, "classes": 10, "feature_shape": (28, 28),
                "train": [6000] * 10, "test": [1000] * 10},
}


@dataclass
class Shapes:
    """Everything about a setting that the cost depends on."""
    dataset: str
    d: int
    n_classes: int
    n_test: int
    owners_train: list          # training points per owner
    owners_val: list            # validation points per owner
    layer_sizes: tuple          # (d, hidden..., classes)
    model: str
    attack_queries: int = 0     # extra queries on which attack success is measured
    poisoned: list = field(default_factory=list)
    epochs: int = 10
    batch_size: int = 32        # owners' local training
    mono_batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    seed: int = 0
    note: str = ""
    n_dataset_train: int = 0    # the dataset's training points (owners' train + validation)

    @property
    def m(self):
        return len(self.owners_train)

    @property
    def n_train(self):
        return int(sum(self.owners_train))

    @property
    def n_queries(self):
        return self.n_test + self.attack_queries

    def settings(self):
        return {"dataset": self.dataset, "owners": self.m, "model": self.model,
                "layer_sizes": list(self.layer_sizes), "epochs": self.epochs,
                "batch_size": self.batch_size, "mono_batch_size": self.mono_batch_size,
                "lr": self.lr, "momentum": self.momentum, "seed": self.seed,
                "n_train": self.n_dataset_train or self.n_train, "n_test": self.n_test,
                "n_val": int(sum(self.owners_val)), "poisoned": len(self.poisoned),
                "n_features": self.d, "n_classes": self.n_classes}


def _labels(counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    return y[np.random.default_rng(seed).permutation(len(y))]


def _dataset_labels(dataset, data_dir, seed, n):
    """(d, classes, y_train, y_test, note), loading the dataset when possible."""
    from ensemble.data import load_dataset
    try:
        ds = load_dataset(dataset, data_dir=data_dir, seed=seed, n=n)
        return ds.n_features, ds.n_classes, ds.y_train, ds.y_test, ""
    except FileNotFoundError:
        if dataset not in OFFICIAL or data_dir is not None:
            raise
    o = OFFICIAL[dataset]
    train = np.array(o["train"])
    if n is not None and n < train.sum():          # a seeded subset: proportional counts
        train = np.floor(train * n / train.sum()).astype(int)
        train[: n - train.sum()] += 1
    note = (f"{dataset} files not found: official shapes and class counts used "
            f"(label order assumed random)")
    return o["d"], o["classes"], _labels(train, seed), _labels(o["test"], seed + 1), note


def shapes_for(dataset="digits", data_dir=None, owners=10, alpha=None, poisoned=0,
               attack="backdoor", model="mlp", hidden=(64,), epochs=10, batch_size=None,
               lr=0.1, momentum=0.9, seed=0, n=None, target_class=0, source_class=1,
               labels=None) -> Shapes:
    """The Shapes of a setting, by the rules of ensemble.pipeline.prepare.
    `labels` = (d, classes, y_train, y_test) skips loading (any size)."""
    from ensemble.poisoning import choose_poisoned
    from ensemble.splits import split_owners
    if labels is None:
        d, classes, y_train, y_test, note = _dataset_labels(dataset, data_dir, seed, n)
    else:
        (d, classes, y_train, y_test), note = labels, ""
    split_mode = "dirichlet" if alpha is not None else "contiguous"
    parts = split_owners(np.empty((len(y_train), 0)), y_train, owners, mode=split_mode,
                         alpha=alpha, seed=seed, n_classes=classes)
    bad = choose_poisoned(owners, poisoned, seed) if poisoned else []
    extra = 0
    if bad and attack == "backdoor":
        extra = int(np.count_nonzero(np.asarray(y_test) != target_class))
    elif bad and attack == "labelflip":
        extra = int(np.count_nonzero(np.asarray(y_test) == source_class))
    hidden = tuple(hidden) if model == "mlp" else ()
    return Shapes(dataset=dataset, d=int(d), n_classes=int(classes), n_test=int(len(y_test)),
                  owners_train=[o.n_train for o in parts], owners_val=[o.n_val for o in parts],
                  layer_sizes=(int(d),) + hidden + (int(classes),), model=model,
                  attack_queries=extra, poisoned=bad, epochs=int(epochs),
                  batch_size=int(batch_size or 32), lr=lr, momentum=momentum, seed=seed,
                  note=note, n_dataset_train=int(len(y_train)))


def shapes_from_args(args) -> Shapes:
    s = shapes_for(args.dataset, data_dir=args.data_dir, owners=args.owners, alpha=args.noniid,
                   poisoned=args.poisoned, attack=args.attack, model=args.model,
                   hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size or 32,
                   lr=args.lr, seed=args.seed, n=args.n)
    s.mono_batch_size = args.batch_size or 128
    return s


# ---- dry runs of the real programs ---------------------------------------------------------
def _weights_layout(sizes):
    entries = []
    for j in range(len(sizes) - 1):
        entries += [(f"W{j}", (sizes[j], sizes[j + 1])), (f"b{j}", (sizes[j + 1],))]
    return entries


def dry_ensemble(shapes: Shapes, protocol="rep3", phi=0.6, reveal=None, options=None):
    """Dry run of `ensemble.secure.safenet_program` on the setting."""
    from ensemble.cleartext import threshold_count
    from ensemble.secure import DEFAULT_REVEAL, safenet_program
    cls = protocol_class(protocol)
    C, d = shapes.n_classes, shapes.d
    layouts = [Layout(tuple(_weights_layout(shapes.layer_sizes)
                            + [("X_val", (nv, d)), ("Y_val", (nv, C))]))
               for nv in shapes.owners_val]
    payloads = [dry_payload(cls, lay.size) for lay in layouts]
    q_layout = Layout((("X", (shapes.n_queries, d)),))
    threshold = threshold_count(sum(shapes.owners_val), phi)
    return run_dry(safenet_program, cls, options=options, args=(
        payloads, layouts, dry_payload(cls, q_layout.size), q_layout,
        len(shapes.layer_sizes) - 1, threshold, tuple(reveal or DEFAULT_REVEAL)))


def dry_monolithic(shapes: Shapes, protocol="rep3", options=None):
    """Dry run of `ensemble.monolithic.monolithic_program` on the setting."""
    from ensemble.models import init_model
    from ensemble.monolithic import data_order, monolithic_program
    cls = protocol_class(protocol)
    C, d = shapes.n_classes, shapes.d
    layouts = [Layout((("X", (n, d)), ("Y", (n, C)))) for n in shapes.owners_train]
    payloads = [dry_payload(cls, lay.size) for lay in layouts]
    q_layout = Layout((("X", (shapes.n_queries, d)),))
    rng = np.random.default_rng(shapes.seed)
    hidden = shapes.layer_sizes[1:-1] or (64,)
    init = init_model(d, C, shapes.model, hidden, rng)
    n, bs = shapes.n_train, shapes.mono_batch_size
    batches = data_order(n, shapes.epochs, bs, rng)
    return run_dry(monolithic_program, cls, options=options, args=(
        payloads, layouts, dry_payload(cls, q_layout.size), q_layout, init.layers, batches,
        shapes.lr, shapes.momentum, -(-n // bs), shapes.epochs, True))


# ---- reports --------------------------------------------------------------------------------
def _phase(dry_res, name, tm, protocol, transport, network):
    s = dry_res.summary((name,))
    secs = tm.ops_seconds(protocol, transport, dry_res.ops((name,), stages=("program",)), network)
    return {"seconds": secs, "bytes_sent": s["bytes_sent"], "rounds": s["rounds"],
            "messages_sent": None, "ops": s["ops"]}


def _report(mode, dry_res, shapes, protocol, tm, transport, network, phases, extra_seconds=0.0):
    n = dry_res.n_parties
    out = {"mode": mode, "protocol": protocol, "estimate": True,
           "accuracy": None, "cleartext_accuracy": None, "attack_success": None,
           "cleartext_attack_success": None, "models_kept": None, "certified_fraction": None,
           "poisoned_owners": shapes.poisoned}
    out["phases"] = {p: _phase(dry_res, p, tm, protocol, transport, network) for p in phases}
    mpc = tm.ops_seconds(protocol, transport, dry_res.ops(stages=("program",)), network)
    tot = dry_res.summary()
    out["total"] = {"seconds": mpc + extra_seconds, "mpc_seconds": mpc,
                    "bytes_sent_total": tot["bytes_sent_total"], "rounds": tot["rounds"],
                    "bytes_sent": tot["bytes_sent"], "upload_bytes": dry_res.upload_bytes,
                    "ops": tot["ops"]}
    out["n_queries"] = shapes.n_queries
    out["network"] = tm.network_dict(transport, network)
    out["basis"] = tm.basis(protocol, transport, network,
                            [o.name for o in dry_res.ops(stages=("program",))])
    if shapes.note:
        out["basis"]["shapes"] = shapes.note
    assert len(out["total"]["bytes_sent"]) == n
    return out


def estimate_ensemble(shapes: Shapes, protocol="rep3", phi=0.6, reveal=None, transport="tcp",
                      network=None, time_model=None, options=None, dry_result=None) -> dict:
    """The report of run_ensemble, predicted (dry_result: a dry_ensemble of
    the same setting, to price it again under another network)."""
    tm = time_model or TimeModel.load()
    res = dry_result or dry_ensemble(shapes, protocol, phi, reveal, options)
    train_secs = tm.local_training_seconds(shapes.model, max(shapes.owners_train), shapes.epochs,
                                           shapes.batch_size, shapes.layer_sizes)
    out = _report("ensemble", res, shapes, protocol, tm, transport, network,
                  ("share", "filter", "inference", "reveal"), extra_seconds=train_secs)
    n = res.n_parties
    out["phases"]["train"] = {"seconds": train_secs, "bytes_sent": [0] * n, "rounds": 0,
                              "note": "owners train locally in parallel; slowest owner "
                                      "(cleartext time model)"}
    out["phases"] = {k: out["phases"][k] for k in ("share", "train", "filter", "inference", "reveal")}
    out["settings"] = dict(shapes.settings(), protocol=protocol, phi=phi, transport=transport,
                           reveal=list(reveal) if reveal else None)
    return out


def estimate_monolithic(shapes: Shapes, protocol="rep3", transport="tcp", network=None,
                        time_model=None, options=None, dry_result=None) -> dict:
    """The report of run_monolithic, predicted (dry_result as in
    estimate_ensemble)."""
    tm = time_model or TimeModel.load()
    res = dry_result or dry_monolithic(shapes, protocol, options)
    out = _report("monolithic", res, shapes, protocol, tm, transport, network,
                  ("share", "train", "inference", "reveal"))
    out["phases"]["filter"] = {"seconds": 0.0, "bytes_sent": [0] * res.n_parties, "rounds": 0}
    n, bs = shapes.n_train, shapes.mono_batch_size
    out["settings"] = dict(shapes.settings(), protocol=protocol, transport=transport,
                           batch_size=bs, n_train=n, steps=shapes.epochs * -(-n // bs))
    return out


def estimate_compare(shapes: Shapes, protocol="rep3", phi=0.6, reveal=None, transport="tcp",
                     network=None, time_model=None, options=None) -> dict:
    from .cli_train import ratios
    tm = time_model or TimeModel.load()
    ens = estimate_ensemble(shapes, protocol, phi, reveal, transport, network, tm, options)
    mono = estimate_monolithic(shapes, protocol, transport, network, tm, options)
    return {"estimate": True, "network": ens["network"], "basis": ens["basis"],
            "ensemble": ens, "monolithic": mono, "ratios": ratios(mono, ens)}


# ---- command line -----------------------------------------------------------------------------
def network_from_args(args):
    """The NetworkProfile of --latency / --bandwidth / --wan (None: loopback)."""
    from .cli_train import network_runner
    return (network_runner(args) or {}).get("network")


def _print_basis(doc):
    net, basis = doc["network"], doc["basis"]
    lat = f"{net['latency_s'] * 1e3:.3g} ms one-way"
    bw = "unlimited" if not net["bandwidth_Bps"] else f"{net['bandwidth_Bps'] * 8 / 1e6:.4g} Mbit/s"
    where = (f"emulated over {net['emulated_over']}" if net.get("emulated_over")
             else f"this machine's {basis['transport']} loopback")
    print(f"ESTIMATE (nothing was run): network {lat}, {bw} per party ({where})")
    print(f"  bytes and rounds: {basis['bytes_and_rounds']}")
    print(f"  time: {basis['formula']}")
    cal = basis["calibrated"]
    print(f"  time model: {basis['time_model']} (commit {cal.get('git_commit') or '-'}, "
          f"{cal.get('cpu_model') or '-'}, {cal.get('cores') or '-'} cores); refit: {basis['refit']}")
    if basis.get("uncalibrated_ops"):
        print(f"  ops priced from their communication only: {', '.join(basis['uncalibrated_ops'])}")
    for key in ("warning", "shapes"):
        if basis.get(key):
            print(f"  {key}: {basis[key]}")


def run_cli(args):
    """`safenet train --estimate` / `safenet compare --estimate`: prints the
    predicted table and returns the JSON document."""
    from .cli_train import check_args, print_comparison, print_report
    reveal = check_args(args)
    shapes = shapes_from_args(args)
    tm = TimeModel.load(getattr(args, "time_model", None))
    net = network_from_args(args)
    kw = dict(transport=args.transport, network=net, time_model=tm)
    if args.command == "train":
        if args.mode == "ensemble":
            doc = estimate_ensemble(shapes, args.protocol, args.phi, reveal, **kw)
        else:
            doc = estimate_monolithic(shapes, args.protocol, **kw)
        _print_basis(doc)
        print_report(doc)
        return doc
    doc = estimate_compare(shapes, args.protocol, args.phi, reveal, **kw)
    _print_basis(doc)
    print_comparison(doc)
    if getattr(args, "plot", None):
        from .plots import plot_comparison
        plot_comparison([doc], args.plot)
        print(f"wrote {args.plot}")
    return doc
