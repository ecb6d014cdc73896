"""The `safenet` command line. Subcommands: bench primitives, bench
calibrate (the time model of --estimate), certs, party, train, compare
(both with --estimate: bench.estimate), owners (the owners' side of a
multi-host train/compare), check. Every subcommand accepts
--json FILE and writes one JSON object with a `meta` block (cli.md).
`safenet --quiet ...` silences progress displays (mpcore.progress).
`safenet party` runs one party of a subcommand on its own host: a handler
supports it by passing `args.runner` on (contract: bench/cli_hosts.py).
Imports every layer below."""
import argparse
import json
import sys

from . import cli_hosts, cli_train, meta


def _ops(text):
    return [o.strip() for o in text.split(",") if o.strip()]


def _shape(text):
    try:
        a, b, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shape must look like 128x784x128, got {text!r}")
    if min(a, b, c) < 1:
        raise argparse.ArgumentTypeError(f"--shape dimensions must be positive, got {text!r}")
    return a, b, c


def _positive(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def build_parser():
    parser = argparse.ArgumentParser(prog="safenet", description=(
        "Secure multiparty computation engine for SafeNet ensembles vs monolithic training."))
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress display (results and errors are still printed)")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_hosts.add_parsers(sub)

    bench = sub.add_parser("bench", help="benchmarks")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    prim = bsub.add_parser("primitives", help="microbenchmark protocol primitives")
    prim.add_argument("--protocol", default="rep3")
    prim.add_argument("--transport", choices=("memory", "tcp"), default="tcp",
                      help="tcp: parties as separate processes on loopback (default); "
                           "memory: threads in one process")
    prim.add_argument("--ops", type=_ops, default=["mul", "matmul", "trunc", "fxmul", "fxmatmul"])
    prim.add_argument("--n", type=_positive, default=None,
                      help="elements for elementwise ops (default per op: mul/trunc 10^6, "
                           "fxmul/ltz/relu 10^5, argmax 10^4 rows of 10)")
    prim.add_argument("--shape", type=_shape, default=None, help="matmul shape AxBxC (default 128x784x128)")
    prim.add_argument("--repeat", type=_positive, default=5)
    prim.add_argument("--semi-honest", action="store_true",
                      help="switch off the active-security checks of rep4 (benchmarking only)")
    prim.add_argument("--seed", type=int, default=0)
    prim.add_argument("--json", metavar="FILE")
    cli_train.add_network(prim)
    cal = bsub.add_parser("calibrate", help="fit the time model of --estimate on this machine")
    cal.add_argument("--protocols", type=_ops, default=["rep3", "rep4"])
    cal.add_argument("--transports", type=_ops, default=["tcp", "memory"])
    cal.add_argument("--repeat", type=_positive, default=7)
    cal.add_argument("--quick", action="store_true", help="two sizes per op (coarser fit)")
    cal.add_argument("--out", metavar="FILE", default=None,
                     help="where to write the model (default: the user cache, see --estimate)")
    cal.add_argument("--json", metavar="FILE")

    cli_train.add_parsers(sub)

    check = sub.add_parser("check", help="conformance suite (and fault campaign) for a protocol")
    check.add_argument("--protocol", default="rep3")
    check.add_argument("--transport", choices=("memory", "tcp"), default="memory")
    check.add_argument("--examples", type=_positive, default=10, help="hypothesis examples per op")
    check.add_argument("--ops", type=_ops, default=None, help="only these ops")
    check.add_argument("--faults", action="store_true", help="also run the fault campaign")
    check.add_argument("--quick", action="store_true", help="fewer examples and fault trials")
    check.add_argument("--json", metavar="FILE")
    return parser


def _print_primitives(results):
    print(f"{'op':<9} {'protocol':<8} {'n':>9} {'median s':>10} {'ops/s':>12} "
          f"{'rounds':>6} {'MB sent per party':<26} {'declared':>8} {'correct':>7}")
    for r in results:
        # None: not known on this party (a non-zero party of `safenet party`)
        mb = "/".join("-" if b is None else f"{b / 1e6:.2f}" for b in r["bytes_sent"])
        declared = {True: "ok", False: "DIFFERS", None: "-"}[r["cost_matches_declared"]]
        print(f"{r['op']:<9} {r['protocol']:<8} {r['n']:>9} {r['median_seconds']:>10.4f} "
              f"{r['ops_per_second']:>12.3g} {r['rounds']:>6} {mb:<26} "
              f"{declared:>8} {str(r['correct']):>7}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.quiet:
        from mpcore.progress import set_quiet
        set_quiet(True)
    if cli_hosts.handles(args):
        return cli_hosts.main(args, build_parser, run_command)
    return run_command(args)


def run_command(args):
    """Run one parsed subcommand (args.runner: None, or set by `safenet party`)."""
    runner = getattr(args, "runner", None)
    try:
        if args.command == "bench" and args.bench_command == "primitives":
            from .primitives import run_primitives
            settings = {k: v for k, v in vars(args).items() if k not in ("json", "runner")}
            results = run_primitives(args.protocol, args.ops, args.transport, args.n, args.shape,
                                     args.repeat, args.semi_honest, args.seed,
                                     runner=cli_train.network_runner(args, runner))
            doc = {"meta": meta.collect(settings), "results": results}
            _print_primitives(results)
            if runner is None:
                ok = all(r["correct"] and r["cost_matches_declared"] for r in results)
            else:   # a party other than 0 knows neither (None): only False fails
                ok = all(r["correct"] is not False and r["cost_matches_declared"] is not False
                         for r in results)
        elif args.command == "bench" and args.bench_command == "calibrate":
            from .calibrate import run_calibrate
            doc = run_calibrate(args)
            ok = True
        elif args.command in ("train", "compare") and args.estimate:
            from .estimate import run_cli
            settings = {k: v for k, v in vars(args).items() if k not in ("json", "runner")}
            doc = run_cli(args)
            doc["meta"] = meta.collect(settings)
            ok = True
        elif args.command == "owners":
            if args.uploads or args.estimate:
                raise ValueError("`safenet owners` writes hand-off files; --uploads and "
                                 "--estimate belong to train/compare")
            settings = {k: v for k, v in vars(args).items() if k not in ("json", "runner")}
            doc = {"meta": meta.collect(settings), **cli_train.run_owners(args)}
            ok = True
        elif args.command in ("train", "compare", "check"):
            if runner is not None and args.command == "check":
                raise ValueError("`safenet party` does not run `check`: it is a local suite")
            settings = {k: v for k, v in vars(args).items() if k not in ("json", "runner")}
            if args.command == "check":
                from protocols.testing.suite import format_table, run_suite
                result = run_suite(args.protocol, args.transport, args.examples, args.ops,
                                   args.faults, args.quick)
                print(format_table(result))
                doc = {"meta": meta.collect(settings), **result}
                s = result["summary"]
                ok = s["failures"] == 0 and s["undetected"] == 0 and s["hangs"] == 0
            elif args.command == "train":
                report = cli_train.run_train(args, args.mode, runner)
                cli_train.print_report(report)
                doc = {"meta": meta.collect(settings), **report}
                ok = True
            else:
                doc = cli_train.run_compare(args, runner)
                doc["meta"] = meta.collect(settings)
                ok = True
        else:  # pragma: no cover - argparse enforces the choices
            raise SystemExit(2)
    except (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"safenet: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
