"""The `safenet` command line. Subcommands: bench primitives (more join as
they land: train, compare, check, certs, party). Every subcommand accepts
--json FILE and writes one JSON object with a `meta` block (cli.md).
Imports every layer below."""
import argparse
import json
import sys

from . import meta


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
    sub = parser.add_subparsers(dest="command", required=True)

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
    return parser


def _print_primitives(results):
    print(f"{'op':<9} {'protocol':<8} {'n':>9} {'median s':>10} {'ops/s':>12} "
          f"{'rounds':>6} {'MB sent per party':<26} {'declared':>8} {'correct':>7}")
    for r in results:
        mb = "/".join(f"{b / 1e6:.2f}" for b in r["bytes_sent"])
        print(f"{r['op']:<9} {r['protocol']:<8} {r['n']:>9} {r['median_seconds']:>10.4f} "
              f"{r['ops_per_second']:>12.3g} {r['rounds']:>6} {mb:<26} "
              f"{'ok' if r['cost_matches_declared'] else 'DIFFERS':>8} {str(r['correct']):>7}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench" and args.bench_command == "primitives":
            from .primitives import run_primitives
            settings = {k: v for k, v in vars(args).items() if k not in ("json",)}
            results = run_primitives(args.protocol, args.ops, args.transport, args.n, args.shape,
                                     args.repeat, args.semi_honest, args.seed)
            doc = {"meta": meta.collect(settings), "results": results}
            _print_primitives(results)
            ok = all(r["correct"] and r["cost_matches_declared"] for r in results)
        else:  # pragma: no cover - argparse enforces the choices
            raise SystemExit(2)
    except (ValueError, FileNotFoundError) as exc:
        print(f"safenet: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
