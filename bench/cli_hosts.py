"""`safenet certs` and `safenet party`: running the parties on separate hosts.
Imports mpcore (hosts, tls, errors). See docs/hosts.md for the user's guide.

    safenet certs --out DIR --parties N [--days D]
    safenet party --config parties.toml --id I [--insecure] [--timeout S]
                  [--connect-timeout S] <subcommand ...>

The `runner` contract (how a subcommand supports `safenet party`)
-----------------------------------------------------------------
`safenet party` parses <subcommand ...> with the ordinary `safenet` parser,
then adds to the parsed namespace, before calling the ordinary handler:

    args.runner = {"hosts": HostConfig, "party_id": I,
                   ["timeout": S,] "connect_timeout": C}
    args.party  = {"config": ..., "id": I, "tls": bool, "n_parties": N, ...}

(ordinary runs have args.runner = None). A subcommand supports party runs by
1. passing `runner=args.runner` to its run function, which merges it into
   the keyword arguments of `protocols.run(...)` / `run_parties(...)`
   (`kw = {...defaults...}; kw.update(runner or {})`): the program itself is
   unchanged and runs on every party;
2. building its report from what a party has: on party 0 the RunResult has
   every party's ledger (`result.merged`, `result.summary()` work) but only
   party 0's value; on party i only index i of values/ledgers/seconds is
   set (`result.party_id` is i). Reveal inside the program whatever party 0
   must report; never ship shares to party 0. Other parties write their own
   view (own times and bytes; unknown fields None, never False);
3. adding its command words to PARTY_COMMANDS below, e.g. ("train",) or
   ("compare",) (what `_command_words` returns for its parsed arguments).
Every party writes its own --json file (a "{id}" in the name is replaced by
the party id); party 0's holds the results. Exit codes: 0 success, 1 the run
failed (this party's error is printed as "safenet: party I: ..."), 2 a
usage, configuration or certificate problem.
"""
import argparse
import json
import logging
import sys

PARTY_COMMANDS = {("bench", "primitives"), ("train",), ("compare",)}   # honour args.runner
DEFAULT_CONNECT_TIMEOUT = 60.0


def _positive_int(text):
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return v


def _positive_float(text):
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return v


def add_certs_parser(sub):
    p = sub.add_parser("certs", help="make a CA and one certificate per party for TLS",
                       description="Write DIR/ca.pem and DIR/party{i}.pem, DIR/party{i}.key "
                                   "(EC P-256, a fresh CA each call; the CA key is not kept).")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--parties", required=True, type=_positive_int, metavar="N")
    p.add_argument("--days", type=_positive_int, default=30, metavar="D",
                   help="validity of the certificates in days (default 30)")
    p.add_argument("--json", metavar="FILE")
    return p


def add_party_parser(sub):
    p = sub.add_parser(
        "party", help="run one party of a subcommand; the other hosts run the others",
        description="Run party I of <subcommand ...> with the addresses and certificates of "
                    "parties.toml. Every party runs the same command line with its own --id.",
        epilog="example: safenet party --config parties.toml --id 1 bench primitives --ops mul "
               "--json party{id}.json")
    p.add_argument("--config", required=True, metavar="parties.toml")
    p.add_argument("--id", required=True, type=int, metavar="I", dest="party_id")
    p.add_argument("--insecure", action="store_true",
                   help="run without TLS (no encryption, no authentication); needed when "
                        "parties.toml has no [tls] table")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="S",
                   help="seconds to wait for any message of a peer (default: the subcommand's)")
    p.add_argument("--connect-timeout", type=_positive_float, default=DEFAULT_CONNECT_TIMEOUT,
                   metavar="S", help="seconds to wait for every party at start-up (default 60)")
    p.add_argument("subcommand", nargs=argparse.REMAINDER,
                   help="the subcommand and its options, e.g. bench primitives --ops mul")
    return p


def add_parsers(sub):
    """Register `certs` and `party` on the top-level subparsers."""
    add_certs_parser(sub)
    add_party_parser(sub)


def handles(args):
    return args.command in ("certs", "party")


def main(args, build_parser, dispatch):
    """Run `certs` or `party`. `build_parser()` makes the safenet parser,
    `dispatch(args)` runs an ordinary parsed subcommand and returns its exit code."""
    if args.command == "certs":
        return run_certs(args)
    return run_party(args, build_parser, dispatch)


def run_certs(args):
    from mpcore.tls import make_certs
    from . import meta
    try:
        made = make_certs(args.out, args.parties, args.days)
    except (ValueError, OSError) as exc:
        print(f"safenet: error: {exc}", file=sys.stderr)
        return 2
    end = made.ca_cert.not_valid_after_utc
    print(f"wrote {made.ca_path} and {args.parties} certificate/key pairs in {made.out_dir} "
          f"(valid until {end:%Y-%m-%d %H:%M} UTC); copy ca.pem and party{{i}}.pem/.key to "
          f"host i only")
    if args.json:
        doc = {"meta": meta.collect({k: v for k, v in vars(args).items() if k != "json"}),
               "ca": str(made.ca_path), "certs": [str(p) for p in made.cert_paths],
               "keys": [str(p) for p in made.key_paths], "days": args.days,
               "not_after": end.isoformat()}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 0


def _command_words(inner):
    words = [inner.command]
    for attr in ("bench_command",):
        if getattr(inner, attr, None):
            words.append(getattr(inner, attr))
    return tuple(words)


def run_party(args, build_parser, dispatch):
    from mpcore.errors import RunFailed
    from mpcore.hosts import load_hosts
    logging.basicConfig(level=logging.WARNING, format="safenet: %(message)s")
    me = args.party_id
    if not args.subcommand:
        print("safenet party: error: give the subcommand to run, e.g. "
              "`safenet party --config parties.toml --id 0 bench primitives`", file=sys.stderr)
        return 2
    try:
        inner = build_parser().parse_args(args.subcommand)
    except SystemExit as exc:       # argparse already printed the problem
        return exc.code or 2
    words = _command_words(inner)
    if words[0] in ("party", "certs") or words not in PARTY_COMMANDS:
        print(f"safenet party: error: `safenet {' '.join(words)}` cannot run as one party of a "
              f"multi-host run (supported: "
              f"{', '.join(' '.join(w) for w in sorted(PARTY_COMMANDS))})", file=sys.stderr)
        return 2
    if getattr(inner, "transport", None) == "memory":
        print("safenet party: error: --transport memory runs every party in one process; a "
              "party run always uses the network of parties.toml", file=sys.stderr)
        return 2
    try:
        cfg = load_hosts(args.config, insecure=args.insecure, party_id=me)
    except ValueError as exc:
        print(f"safenet: error: party {me}: {exc}", file=sys.stderr)
        return 2
    runner = {"hosts": cfg, "party_id": me, "connect_timeout": args.connect_timeout}
    if args.timeout is not None:
        runner["timeout"] = args.timeout
    inner.runner = runner
    inner.party = dict(cfg.describe(), id=me, timeout=args.timeout,
                       connect_timeout=args.connect_timeout)
    inner.quiet = bool(getattr(inner, "quiet", False) or getattr(args, "quiet", False))
    if getattr(inner, "json", None) and "{id}" in inner.json:
        inner.json = inner.json.replace("{id}", str(me))
    try:
        return dispatch(inner)
    except RunFailed as exc:
        own = exc.errors[me] if exc.errors and me < len(exc.errors) else None
        err = own if own is not None else exc
        print(f"safenet: error: {err} ({type(err).__name__})", file=sys.stderr)
        return 1
