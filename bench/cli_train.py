"""`safenet train`, `safenet compare` and `safenet owners`: argument
parsing, running and the printed tables. The JSON keys follow cli.md.
Imports ensemble, bench.meta.

Ordinary runs do the owners' side and the parties' side in one process
tree. Runs on separate hosts split them: `safenet owners --out DIR ...`
runs the data owners and the querier (local training, uploads) and writes
DIR/<mode>/party{i}.npz (party i's inputs only; ensemble.bundle), then
`safenet party --id I ... train|compare --uploads DIR` runs party I on
them (the `runner` contract of bench/cli_hosts.py).
"""
import argparse

DATASETS = ("digits", "breast_cancer", "mnist", "fashion", "adult", "synthetic")


def _hidden(text):
    try:
        sizes = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden takes sizes like 64 or 128,64, got {text!r}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _phi(text):
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"--phi must be in [0, 1], got {text}")
    return v


def add_common(p):
    """Options shared by train and compare (cli.md)."""
    p.add_argument("--dataset", choices=DATASETS, default="digits")
    p.add_argument("--data-dir", default=None, help="directory with MNIST/Fashion IDX or adult CSV files")
    p.add_argument("--owners", type=int, default=10, help="number of data owners m")
    p.add_argument("--protocol", choices=("rep3", "rep4"), default="rep3")
    p.add_argument("--model", choices=("logreg", "mlp"), default="mlp")
    p.add_argument("--hidden", type=_hidden, default=(64,), help="MLP hidden sizes (default 64)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: 32 for owners' local training, 128 for monolithic")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--noniid", type=float, default=None, metavar="ALPHA",
                   help="non-iid split by label with Dirichlet(ALPHA) (default: contiguous shares)")
    p.add_argument("--poisoned", type=int, default=0, metavar="T")
    p.add_argument("--attack", choices=("backdoor", "labelflip", "random"), default="backdoor")
    p.add_argument("--phi", type=_phi, default=0.6, help="filter threshold on validation accuracy")
    p.add_argument("--n", type=int, default=None, help="training points (synthetic: total points)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--transport", choices=("memory", "tcp"), default="tcp",
                   help="tcp: parties as separate processes (default); memory: threads")
    p.add_argument("--reveal", default="labels,votes,kept",
                   help="what the ensemble reveals: labels,votes,kept,filter")
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--uploads", metavar="DIR", default=None,
                   help="run the parties on the hand-off files of `safenet owners --out DIR` "
                        "(the setting comes from the files; data options here are not used)")
    p.add_argument("--estimate", action="store_true",
                   help="compute and send nothing: predict bytes, rounds (exact, from the ops' "
                        "declared costs) and time (fitted model) of the run (cli.md --estimate)")
    p.add_argument("--time-model", metavar="FILE", default=None,
                   help="with --estimate: the fitted time model (default: the one written by "
                        "`safenet bench calibrate`, else built-in defaults)")
    add_network(p)


def add_network(p):
    """Emulated network (mpcore.netsim): latency and per-party uplink rate."""
    g = p.add_argument_group("emulated network (in the channel layer)")
    g.add_argument("--latency", type=float, default=0.0, metavar="S",
                   help="one-way latency in seconds (a 40 ms round trip is 0.02)")
    g.add_argument("--bandwidth", type=float, default=0.0, metavar="BPS",
                   help="per-party uplink in bytes per second (0: unlimited)")
    g.add_argument("--wan", action="store_true",
                   help="shortcut for --latency 0.02 --bandwidth 12.5e6 (40 ms RTT, 100 Mbit/s)")


def network_runner(args, runner=None):
    """Merge the emulated network of the arguments into a runner dict."""
    from mpcore.netsim import WAN, NetworkProfile
    profile = WAN if getattr(args, "wan", False) else NetworkProfile(
        getattr(args, "latency", 0.0) or 0.0, getattr(args, "bandwidth", 0.0) or 0.0)
    if not profile.active:
        return runner
    return dict(runner or {}, network=profile)


def add_parsers(sub):
    train = sub.add_parser("train", help="train (ensemble or monolithic) inside MPC and evaluate")
    train.add_argument("--mode", choices=("ensemble", "monolithic"), required=True)
    add_common(train)
    compare = sub.add_parser("compare", help="ensemble vs monolithic on the same setting")
    add_common(compare)
    compare.add_argument("--plot", metavar="FILE.png", default=None)
    owners = sub.add_parser(
        "owners", help="the data owners' and querier's side of a multi-host run: write each "
                       "party's inputs to files",
        description="Train the owners' models locally, secret-share the uploads and write "
                    "DIR/<mode>/party{i}.npz (copy to host i only; it holds nothing but party "
                    "i's shares and the public parameters) and DIR/<mode>/evaluation.npz (the "
                    "querier's test labels and cleartext reference, for scoring the revealed "
                    "labels; give it to the host of party 0 only to have it score the run). "
                    "Then on every host: safenet party --id I ... train|compare --uploads DIR.")
    add_common(owners)
    owners.add_argument("--out", required=True, metavar="DIR")
    owners.add_argument("--mode", choices=("ensemble", "monolithic", "both"), default="both")


def check_args(args):
    if args.owners < 1:
        raise ValueError(f"--owners must be >= 1, got {args.owners}")
    if not 0 <= args.poisoned <= args.owners:
        raise ValueError(f"--poisoned must be in 0..{args.owners}, got {args.poisoned}")
    if args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {args.epochs}")
    reveal = tuple(r.strip() for r in args.reveal.split(",") if r.strip())
    from ensemble.secure import REVEAL_CHOICES
    bad = [r for r in reveal if r not in REVEAL_CHOICES]
    if bad:
        raise ValueError(f"--reveal: unknown item(s) {bad}; choose from {', '.join(REVEAL_CHOICES)}")
    return reveal


def _setting(args):
    from ensemble.pipeline import prepare
    return prepare(args.dataset, data_dir=args.data_dir, owners=args.owners, alpha=args.noniid,
                   poisoned=args.poisoned, attack=args.attack, model=args.model,
                   epochs=args.epochs, seed=args.seed, n=args.n,
                   batch_size=args.batch_size or 32, hidden=args.hidden, lr=args.lr)


def make_plan(args, mode, setting=None):
    """The owners' and querier's side of a run (ensemble.bundle.Plan)."""
    reveal = check_args(args)
    setting = setting or _setting(args)
    if mode == "ensemble":
        from ensemble.pipeline import ensemble_plan
        return ensemble_plan(setting, args.protocol, phi=args.phi, reveal=reveal)
    from ensemble.monolithic import monolithic_plan
    return monolithic_plan(setting, args.protocol, batch_size=args.batch_size or 128)


def load_plan(args, mode, runner=None):
    """The plan of `--uploads DIR`: this party's inputs (all parties' in an
    ordinary run) and, where present, the querier's evaluation file."""
    import protocols
    from ensemble.bundle import read_plan
    n = protocols.protocol_class(args.protocol).n_parties
    parties = [runner["party_id"]] if runner and "party_id" in runner else range(n)
    return read_plan(args.uploads, mode, args.protocol, parties, n)


def run_train(args, mode, runner=None, setting=None):
    if runner and "party_id" in runner and not args.uploads:
        raise ValueError(f"`safenet party ... {args.command}` needs --uploads DIR: the data "
                         f"owners' side runs first, once, with `safenet owners --out DIR ...`, "
                         f"and host i gets DIR/<mode>/party{{i}}.npz")
    plan = load_plan(args, mode, runner) if args.uploads else make_plan(args, mode, setting)
    processes = args.transport == "tcp"
    runner = network_runner(args, runner)
    if mode == "ensemble":
        from ensemble.pipeline import run_ensemble_plan
        return run_ensemble_plan(plan, transport=args.transport, processes=processes,
                                 runner=runner)
    from ensemble.monolithic import run_monolithic_plan
    return run_monolithic_plan(plan, transport=args.transport, processes=processes,
                               runner=runner, quiet=getattr(args, "quiet", False))


def run_owners(args):
    """`safenet owners`: write the hand-off files of every mode asked for."""
    from ensemble.bundle import write_plan
    modes = ("ensemble", "monolithic") if args.mode == "both" else (args.mode,)
    setting = _setting(args)
    written = {}
    for mode in modes:
        plan = make_plan(args, mode, setting)
        paths = write_plan(args.out, plan)
        written[mode] = [str(p) for p in paths]
        print(f"{mode}: wrote {len(paths)} party files in {paths[0].parent} "
              f"(copy party{{i}}.npz to host i only) and evaluation.npz (the querier's)")
    return {"out": str(args.out), "modes": list(modes), "files": written,
            "settings": setting.settings, "protocol": args.protocol}


def _fmt(v, spec="{:.4f}"):
    return "-" if v is None else spec.format(v)


def _mb(v):
    return "-" if v is None else f"{v / 1e6:.2f}"


def print_report(r):
    print(f"mode {r['mode']} on {r['protocol']}: accuracy {_fmt(r.get('accuracy'))} "
          f"(cleartext {_fmt(r.get('cleartext_accuracy'))}), attack success "
          f"{_fmt(r.get('attack_success'))}, models kept {r.get('models_kept', '-')}, "
          f"certified {_fmt(r.get('certified_fraction'))}")
    print(f"{'phase':<10} {'seconds':>9} {'rounds':>7} {'MB sent per party':<30}")
    for name, ph in r["phases"].items():
        mb = "/".join(_mb(b) for b in ph["bytes_sent"])
        print(f"{name:<10} {ph['seconds']:>9.3f} {ph['rounds']:>7} {mb:<30}")
    t = r["total"]
    print(f"{'total':<10} {t['seconds']:>9.3f} {t['rounds']:>7} {_mb(t['bytes_sent_total'])} MB all parties")


def ratios(mono, ens):
    def r(a, b):
        return None if a is None or not b else a / b
    return {"seconds": r(mono["total"]["seconds"], ens["total"]["seconds"]),
            "mpc_seconds": r(mono["total"]["mpc_seconds"], ens["total"]["mpc_seconds"]),
            "bytes": r(mono["total"]["bytes_sent_total"], ens["total"]["bytes_sent_total"]),
            "rounds": r(mono["total"]["rounds"], ens["total"]["rounds"])}


def print_comparison(doc):
    e, m, r = doc["ensemble"], doc["monolithic"], doc["ratios"]
    rows = [("time (s)", e["total"]["seconds"], m["total"]["seconds"], r["seconds"]),
            ("MPC time (s)", e["total"]["mpc_seconds"], m["total"]["mpc_seconds"], r["mpc_seconds"]),
            ("MB sent, all parties", _scaled(e["total"]["bytes_sent_total"]),
             _scaled(m["total"]["bytes_sent_total"]), r["bytes"]),
            ("rounds", e["total"]["rounds"], m["total"]["rounds"], r["rounds"]),
            ("accuracy", e.get("accuracy"), m.get("accuracy"), None),
            ("cleartext accuracy", e.get("cleartext_accuracy"), m.get("cleartext_accuracy"), None),
            ("attack success", e.get("attack_success"), m.get("attack_success"), None),
            ("certified fraction", e.get("certified_fraction"), m.get("certified_fraction"), None)]
    print(f"{'':<22} {'ensemble':>12} {'monolithic':>12} {'mono/ens':>10}")
    for name, a, b, ratio in rows:
        print(f"{name:<22} {_fmt(a, '{:.4g}'):>12} {_fmt(b, '{:.4g}'):>12} {_fmt(ratio, '{:.2f}x'):>10}")


def _scaled(v):
    return None if v is None else v / 1e6


def run_compare(args, runner=None):
    setting = None if args.uploads else _setting(args)
    ens = run_train(args, "ensemble", runner, setting)
    mono = run_train(args, "monolithic", runner, setting)
    doc = {"ensemble": ens, "monolithic": mono, "ratios": ratios(mono, ens)}
    print_comparison(doc)
    if getattr(args, "plot", None) and mono["total"]["bytes_sent_total"] is not None:
        from .plots import plot_comparison
        plot_comparison([doc], args.plot)
        print(f"wrote {args.plot}")
    return doc
