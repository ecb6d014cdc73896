"""`safenet compare` with every party in its own network namespace, on a
LAN link and on a WAN link, figures side by side (the issue's simulated-WAN
rerun). Needs root and `ip`; see bench/netns.py for the topology and the
link emulation.

    python -m bench.netns_compare --protocol rep4 --rtt-ms 40 --rate-mbit 100 \\
        --out results/netns -- --owners 10 --model mlp --epochs 10

Steps: `safenet owners` runs once in the root namespace (the data owners'
side) and writes each party's hand-off file; then `safenet party ...
compare --uploads` runs in the namespaces twice, on an unshaped link (LAN)
and on the shaped link (WAN). Both runs use the same uploads, so the
figures differ only by the network. Writes <out>/netns_compare.json
(meta, both party-0 reports, the side-by-side rows) and prints the table.
Where namespaces are unavailable it says why and exits 0 (--strict: 1).
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from . import netns


def _rows(lan, wan):
    """(label, LAN value, WAN value) per figure of interest."""
    out = []
    for mode in ("ensemble", "monolithic"):
        for key, label, scale in (("mpc_seconds", "MPC time (s)", 1.0),
                                  ("bytes_sent_total", "MB sent, all parties", 1e-6),
                                  ("rounds", "rounds", 1.0)):
            a, b = lan[mode]["total"][key], wan[mode]["total"][key]
            out.append((f"{mode} {label}", None if a is None else a * scale,
                        None if b is None else b * scale))
        out.append((f"{mode} accuracy", lan[mode].get("accuracy"), wan[mode].get("accuracy")))
    for key in ("mpc_seconds", "bytes", "rounds"):
        out.append((f"ratio mono/ens {key}", lan["ratios"][key], wan["ratios"][key]))
    return out


def _fmt(v):
    return "-" if v is None else f"{v:.4g}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.netns_compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=("rep3", "rep4"), default="rep3")
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--rate-mbit", type=float, default=100.0)
    parser.add_argument("--out", default="results/netns", metavar="DIR")
    parser.add_argument("--link", choices=("auto", "netem", "tun"), default="auto",
                        help="how the WAN link is shaped (bench.netns): auto = netem if the "
                             "kernel has it, else the TUN router of bench.tunlink")
    parser.add_argument("--share", choices=("link", "host"), default="link",
                        help="tun: the rate per directed link (default) or per host up/down link")
    parser.add_argument("--insecure", action="store_true", help="no TLS between the namespaces")
    parser.add_argument("--strict", action="store_true", help="exit 1 when namespaces are unavailable")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    parser.add_argument("options", nargs=argparse.REMAINDER,
                        help="-- then `safenet owners` data options (--owners, --model, ...)")
    args = parser.parse_args(argv)
    options = [o for o in args.options if o != "--"]
    reason = netns.unavailable_reason(link=args.link)
    if reason:
        print(f"skipped: {reason}")
        return 1 if args.strict else 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="safenet-netns-compare-"))
    handoff = work / "handoff"
    n = 3 if args.protocol == "rep3" else 4
    r = subprocess.run([sys.executable, "-m", "bench.cli", "--quiet", "owners", "--out",
                        str(handoff), "--protocol", args.protocol, *options],
                       capture_output=True, text=True, timeout=args.timeout)
    if r.returncode != 0:
        print(f"safenet owners failed:\n{r.stderr}", file=sys.stderr)
        return 1
    command = ["compare", "--protocol", args.protocol, "--uploads", str(handoff)]
    docs = {}
    for name, rtt, rate in (("lan", 0.0, 0.0), ("wan", args.rtt_ms, args.rate_mbit)):
        codes, doc = netns.run_in_namespaces(command, n, rtt, rate, workdir=work / name,
                                             timeout=args.timeout, tls=not args.insecure,
                                             link=args.link, share=args.share)
        if doc is None or any(c != 0 for c in codes):
            print(f"{name} run failed: exit codes {codes}; party outputs in {work / name}",
                  file=sys.stderr)
            return 1
        docs[name] = doc
    rows = _rows(docs["lan"], docs["wan"])
    link = (docs["wan"].get("netns") or {}).get("describe", "")
    print(f"{'':<34} {'LAN':>12} {'WAN':>12}   (WAN: {args.rtt_ms:g} ms RTT, "
          f"{args.rate_mbit:g} Mbit/s; {link})")
    for label, a, b in rows:
        print(f"{label:<34} {_fmt(a):>12} {_fmt(b):>12}")
    from .meta import collect
    result = {"meta": collect(dict(vars(args), options=options, n_parties=n)),
              "network": {"lan": {"rtt_ms": 0.0, "rate_mbit": 0.0},
                          "wan": {"rtt_ms": args.rtt_ms, "rate_mbit": args.rate_mbit}},
              "link": {name: doc.get("netns") for name, doc in docs.items()},
              "rows": [{"figure": label, "lan": a, "wan": b} for label, a, b in rows],
              "lan": docs["lan"], "wan": docs["wan"]}
    path = out / "netns_compare.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
