"""Parties in separate Linux network namespaces with a delay and a rate limit
on every link: a real (kernel TCP) WAN for runs of `safenet party`. Needs
root and `ip`; the delay needs either the kernel's netem qdisc (and `tc`)
or /dev/net/tun.

    python -m bench.netns --parties 3 --rtt-ms 40 --rate-mbit 100 \\
        -- bench primitives --ops mul
    python -m bench.netns --parties 4 -- bench primitives --protocol rep4 --ops mul,ltz
    python -m bench.netns --rtt-ms 0 --rate-mbit 0 -- bench primitives      # LAN

Everything after `--` is a subcommand that `safenet party` supports (e.g.
`bench primitives ...`); every party runs it with `--json partyI.json`
added, in a work folder (`--workdir`, default a fresh temporary one) that is
also its current directory, so relative file names in the subcommand are
found and written there. The output names the link emulation used, the exit
codes, party 0's results and, for tun, the router's counters.

Link emulations (`--link`):
- netem: namespaces <tag>p0..p{n-1}, each with eth0 = 10.231.9.(i+1)/24,
  joined by a bridge in a hub namespace <tag>hub. A frame from party i to
  party j leaves through i's eth0 and the hub's port toward j: each of these
  two egress points gets netem delay rtt/4 (one-way rtt/2) and the rate
  limit, so every pair of parties sees the round trip and rate asked for.
  With no delay and no rate it is plain veth + bridge (no tc needed).
- tun: no veth and no bridge: each namespace gets a TUN device tun0 =
  10.231.9.(i+1)/24, and a router process in the root namespace
  (bench/tunlink.py) moves the packets between them with the one-way delay
  rtt/2 and the rate per directed link (`--share host`: per party uplink
  and downlink, as the netem topology). For kernels without netem.
- auto (default): netem when the kernel has it (or when there is nothing to
  shape: then veth + bridge), else tun.
Nothing is created outside these namespaces (the TUN devices live in them),
and they are deleted on exit, also on Ctrl-C or an error.

Where something is missing (not root, no `ip`, no netem and no
/dev/net/tun) the command says what and exits 0 without running (`--strict`
makes it exit 1); the emulated WAN in the channel layer
(`safenet ... --wan`) is the alternative. Imports bench.cli_hosts'
conventions (certs, parties.toml) through the command line only.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from . import tunlink

SUBNET = tunlink.SUBNET          # "10.231.9": party i is SUBNET.(i+1)
BASE_PORT = 15300
LINKS = ("auto", "netem", "tun")


def _ip(*args):
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def _tc(ns, *args):
    return subprocess.run(["ip", "netns", "exec", ns, "tc", *args], check=True,
                          capture_output=True, text=True, timeout=20)


def _base_reason():
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command is missing (Debian package iproute2)"
    return None


def netem_reason():
    """Why the netem qdisc cannot be used here (no `tc`, not in the kernel), or None."""
    reason = _base_reason()
    if reason:
        return reason
    if shutil.which("tc") is None:
        return "the `tc` command is missing (Debian package iproute2)"
    probe = f"snprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", probe)
        try:
            _tc(probe, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
        except subprocess.CalledProcessError as exc:
            return f"the kernel has no netem qdisc for delays (tc: {exc.stderr.strip()})"
    except subprocess.CalledProcessError as exc:
        return f"cannot create a network namespace: {exc.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


def resolve_link(link="auto", shaped=True):
    """The emulation `link` means here: "veth" (veth + bridge, nothing to
    shape), "netem" (veth + bridge + netem) or "tun" (bench.tunlink)."""
    if link not in LINKS:
        raise ValueError(f"link must be one of {', '.join(LINKS)}, not {link!r}")
    if link == "tun":
        return "tun"
    if not shaped:
        return "veth"
    if link == "netem":
        return "netem"
    return "netem" if netem_reason() is None else "tun"


def unavailable_reason(need_netem=None, link="auto", shaped=True):
    """Why parties in namespaces with `link` cannot run here, or None. With
    link="auto" only a missing root, `ip` or /dev/net/tun is a reason (the
    TUN router stands in for netem). need_netem=True/False (older callers)
    means link="netem" with/without shaping."""
    if need_netem is not None:
        link, shaped = "netem", bool(need_netem)
    reason = _base_reason()
    if reason:
        return reason
    if link == "tun":
        return tunlink.unavailable_reason()
    if not shaped:
        return None
    if link == "netem":
        reason = netem_reason()
        return reason and f"{reason}; use --link tun, or the emulated WAN: safenet ... --wan"
    if netem_reason() is None:
        return None
    reason = tunlink.unavailable_reason()
    return reason and (f"no netem qdisc and no TUN link: {reason}; use the emulated WAN "
                       f"instead: safenet ... --wan")


def _shape(ns, dev, rtt_ms, rate_mbit):
    args = ["qdisc", "add", "dev", dev, "root", "netem"]
    if rtt_ms:
        args += ["delay", f"{rtt_ms / 4:g}ms"]
    if rate_mbit:
        args += ["rate", f"{rate_mbit:g}mbit"]
    if rtt_ms or rate_mbit:
        _tc(ns, *args)


class Network:
    """What `network()` made: namespace names, party addresses, the link
    emulation ("veth", "netem" or "tun") and, for tun, its TunLinks."""

    def __init__(self, spaces, addresses, kind, rtt_ms, rate_mbit, tun=None):
        self.spaces, self.addresses, self.kind = spaces, addresses, kind
        self.rtt_ms, self.rate_mbit, self.tun = rtt_ms, rate_mbit, tun

    def describe(self):
        if self.kind == "tun":
            return self.tun.describe()
        if self.kind == "veth":
            return "veth + bridge (no delay, no rate limit: kernel forwarding only)"
        return (f"netem on veth + bridge (delay {self.rtt_ms / 4:g} ms at each of 2 egress "
                f"points: RTT {self.rtt_ms:g} ms; rate {self.rate_mbit or 'unlimited'} Mbit/s)")

    def summary(self):
        doc = {"link": self.kind, "describe": self.describe(), "rtt_ms": self.rtt_ms,
               "rate_mbit": self.rate_mbit, "addresses": self.addresses}
        if self.tun is not None:
            doc["router"] = self.tun.stats
            if self.tun.router_failed is not None:
                doc["router_failed"] = (f"the TUN router exited with {self.tun.router_failed} "
                                        f"during the run")
        return doc


@contextlib.contextmanager
def network(n, rtt_ms=0.0, rate_mbit=0.0, link="auto", tag=None, share="link"):
    """Create n namespaces joined by `link`; yields a Network. Always
    deletes what it created (the TUN router stops first). `share` (tun only):
    the rate is per directed link ("link") or per party up/downlink ("host",
    as the netem topology)."""
    kind = resolve_link(link, bool(rtt_ms or rate_mbit))
    tag = tag or f"sn{os.getpid() % 100000}"
    spaces = [f"{tag}p{i}" for i in range(n)]
    addresses = [f"{SUBNET}.{i + 1}" for i in range(n)]
    if kind == "tun":
        with tunlink.netns_with_tun_links(n, rtt_ms, rate_mbit, tag=tag,
                                          share=share) as (_, __, tun):
            yield Network(spaces, addresses, kind, rtt_ms, rate_mbit, tun)
        return
    hub = f"{tag}hub"
    made = []
    try:
        for ns in spaces + [hub]:
            _ip("netns", "add", ns)
            made.append(ns)
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        for i, ns in enumerate(spaces):
            _ip("link", "add", "eth0", "netns", ns, "type", "veth",
                "peer", "name", f"port{i}", "netns", hub)
            _ip("-n", ns, "addr", "add", f"{addresses[i]}/24", "dev", "eth0")
            for dev_ns, dev in ((ns, "eth0"), (ns, "lo")):
                _ip("-n", dev_ns, "link", "set", dev, "up")
            _ip("-n", hub, "link", "set", f"port{i}", "master", "br0")
            _ip("-n", hub, "link", "set", f"port{i}", "up")
            if kind == "netem":
                _shape(ns, "eth0", rtt_ms, rate_mbit)
                _shape(hub, f"port{i}", rtt_ms, rate_mbit)
        yield Network(spaces, addresses, kind, rtt_ms, rate_mbit)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


@contextlib.contextmanager
def namespaces(n, rtt_ms=0.0, rate_mbit=0.0, tag=None, link="auto"):
    """network() for older callers: yields (namespace names, addresses)."""
    with network(n, rtt_ms, rate_mbit, link, tag) as net:
        yield net.spaces, net.addresses


def run_in_namespaces(command, n, rtt_ms=0.0, rate_mbit=0.0, workdir=None, timeout=600,
                      tls=True, link="auto", log=None, share="link"):
    """Run `safenet party ... <command>` for every party, each in its own
    namespace, with `workdir` (made if missing; default a fresh temporary
    folder) as current directory; party i writes `partyI.json` there, and
    parties 1..n-1 their output to `partyI.log` (party 0's goes to ours).
    Returns (exit codes, party 0's JSON or None); that JSON gets a "netns"
    block (link emulation, settings, router counters), also written to
    `netns.json` in the work folder. `log(text)` (e.g.
    print) hears which link is used before the parties start."""
    from mpcore.hosts import write_hosts
    work = Path(workdir or tempfile.mkdtemp(prefix="safenet-netns-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[1])      # parties import this checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    certs = None
    if tls:
        certs = work / "certs"
        subprocess.run([sys.executable, "-m", "bench.cli", "certs", "--out", str(certs),
                        "--parties", str(n)], check=True, env=env, timeout=120,
                       stdout=subprocess.DEVNULL)
    for i in range(n):                                   # no stale results
        (work / f"party{i}.json").unlink(missing_ok=True)
    with network(n, rtt_ms, rate_mbit, link, share=share) as net:
        if log:
            log(f"link: {net.describe()}")
        config = work / "parties.toml"
        write_hosts(config, [(a, BASE_PORT + i) for i, a in enumerate(net.addresses)], certs)
        procs = []
        with contextlib.ExitStack() as files:
            try:
                for i, ns in enumerate(net.spaces):
                    argv = [sys.executable, "-m", "bench.cli", "party", "--config",
                            str(config), "--id", str(i), *([] if tls else ["--insecure"]),
                            *command, "--json", str(work / f"party{i}.json")]
                    out = None                  # party 0 talks to the terminal, the others
                    if i:                       # to partyI.log (shown if they fail)
                        out = files.enter_context(open(work / f"party{i}.log", "w"))
                    procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *argv], env=env,
                                                  cwd=work, stdout=out, stderr=out))
                codes = []
                for p in procs:
                    try:
                        codes.append(p.wait(timeout=timeout))
                    except subprocess.TimeoutExpired:
                        p.kill()
                        codes.append(p.wait())
            finally:              # Ctrl-C or an error: no party outlives its namespace
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
    for i, code in enumerate(codes):
        if code and i and log:
            text = (work / f"party{i}.log").read_text(errors="replace").strip().splitlines()
            log(f"party {i} exited with {code}; the end of {work / f'party{i}.log'}:\n  "
                + "\n  ".join(text[-15:]))
    summary = dict(net.summary(), workdir=str(work), command=list(command), exit_codes=codes)
    (work / "netns.json").write_text(json.dumps(summary, indent=1))
    out = work / "party0.json"
    doc = json.loads(out.read_text()) if out.exists() else None
    if doc is not None:
        doc["netns"] = summary
    return codes, doc


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m bench.netns", description=__doc__.split("\n\n")[0],
        epilog="example: python -m bench.netns --parties 3 --rtt-ms 40 --rate-mbit 100 -- "
               "bench primitives --ops mul")
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--rate-mbit", type=float, default=100.0,
                        help="per link (0: unlimited)")
    parser.add_argument("--link", choices=LINKS, default="auto",
                        help="netem qdisc on veth, or the TUN router of bench.tunlink "
                             "(auto: netem if the kernel has it, else tun)")
    parser.add_argument("--share", choices=tunlink.SHARES, default="link",
                        help="tun: the rate holds per directed link (default) or per party "
                             "uplink and downlink (host; what the netem topology does)")
    parser.add_argument("--workdir", metavar="DIR",
                        help="the parties' folder: parties.toml, certs, partyI.json "
                             "(default: a new temporary folder)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before a party still running is killed")
    parser.add_argument("--insecure", action="store_true", help="no TLS between the namespaces")
    parser.add_argument("--strict", action="store_true", help="exit 1 when namespaces are unavailable")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then a safenet subcommand that `safenet party` supports")
    args = parser.parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    command = command or ["bench", "primitives"]
    shaped = bool(args.rtt_ms or args.rate_mbit)
    reason = unavailable_reason(link=args.link, shaped=shaped)
    if reason:
        print(f"skipped: {reason}")
        return 1 if args.strict else 0
    try:
        codes, doc = run_in_namespaces(command, args.parties, args.rtt_ms, args.rate_mbit,
                                       workdir=args.workdir, timeout=args.timeout,
                                       tls=not args.insecure, link=args.link, share=args.share,
                                       log=lambda text: print(text, flush=True))
    except KeyboardInterrupt:
        print("interrupted: the parties, the router and the namespaces are gone", flush=True)
        return 130
    print(f"exit codes: {codes}")
    if doc is not None:
        net = doc.pop("netns")
        print(json.dumps(doc.get("results", doc), indent=1)[:4000])
        print(f"link: {net['describe']}")
        if net.get("router"):
            print(f"router: {json.dumps(net['router'])}")
        if net.get("router_failed"):
            print(f"WARNING: {net['router_failed']}")
        print(f"party files: {net['workdir']}")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # clean up when killed, too
    sys.exit(main())
