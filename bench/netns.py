"""Parties in separate Linux network namespaces joined by veth links, with an
optional netem delay and rate on every link: a real (kernel) WAN for runs of
`safenet party`. Needs root, `ip` and `tc`; the delay needs the kernel's
netem qdisc.

    python -m bench.netns --parties 3 --rtt-ms 40 --rate-mbit 100 \\
        -- bench primitives --ops mul,fxmatmul

Topology: namespaces <tag>p0..p{n-1}, each with eth0 = 10.231.9.(i+1)/24,
joined by a bridge in a hub namespace <tag>hub. A frame from party i to
party j leaves through i's eth0 and the hub's port toward j: each of these
two egress points gets netem delay rtt/4 (one-way rtt/2) and the rate
limit, so every pair of parties sees the round trip and rate asked for.
Nothing is created outside these namespaces, and they are deleted on exit.

Where something is missing (not root, no `ip`, no netem in the kernel) the
command says what and exits 0 without running (`--strict` makes it exit 1);
the emulated WAN in the channel layer (`safenet ... --wan`) is the
alternative. Imports bench.cli_hosts' conventions (certs, parties.toml)
through the command line only.
"""
import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SUBNET = "10.231.9"
BASE_PORT = 15300


def _ip(*args):
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def _tc(ns, *args):
    return subprocess.run(["ip", "netns", "exec", ns, "tc", *args], check=True,
                          capture_output=True, text=True, timeout=20)


def unavailable_reason(need_netem=True):
    """Why namespaces (with netem) cannot be used here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"the `{tool}` command is missing (Debian package iproute2)"
    if need_netem:
        probe = f"snprobe{os.getpid() % 100000}"
        try:
            _ip("netns", "add", probe)
            try:
                _tc(probe, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
            except subprocess.CalledProcessError as exc:
                return (f"the kernel has no netem qdisc for delays (tc: {exc.stderr.strip()}); "
                        f"use the emulated WAN instead: safenet ... --wan")
        except subprocess.CalledProcessError as exc:
            return f"cannot create a network namespace: {exc.stderr.strip()}"
        finally:
            subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


def _shape(ns, dev, rtt_ms, rate_mbit):
    args = ["qdisc", "add", "dev", dev, "root", "netem"]
    if rtt_ms:
        args += ["delay", f"{rtt_ms / 4:g}ms"]
    if rate_mbit:
        args += ["rate", f"{rate_mbit:g}mbit"]
    if rtt_ms or rate_mbit:
        _tc(ns, *args)


@contextlib.contextmanager
def namespaces(n, rtt_ms=0.0, rate_mbit=0.0, tag=None):
    """Create the topology; yields (namespace names, addresses). Always
    deletes what it created."""
    tag = tag or f"sn{os.getpid() % 100000}"
    spaces = [f"{tag}p{i}" for i in range(n)]
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
            _ip("-n", ns, "addr", "add", f"{SUBNET}.{i + 1}/24", "dev", "eth0")
            for dev_ns, dev in ((ns, "eth0"), (ns, "lo")):
                _ip("-n", dev_ns, "link", "set", dev, "up")
            _ip("-n", hub, "link", "set", f"port{i}", "master", "br0")
            _ip("-n", hub, "link", "set", f"port{i}", "up")
            _shape(ns, "eth0", rtt_ms, rate_mbit)
            _shape(hub, f"port{i}", rtt_ms, rate_mbit)
        yield spaces, [f"{SUBNET}.{i + 1}" for i in range(n)]
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def run_in_namespaces(command, n, rtt_ms=0.0, rate_mbit=0.0, workdir=None, timeout=600,
                      tls=True):
    """Run `safenet party ... <command>` for every party, each in its own
    namespace; returns (exit codes, party 0's JSON or None)."""
    from mpcore.hosts import write_hosts
    work = Path(workdir or tempfile.mkdtemp(prefix="safenet-netns-"))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    certs = None
    if tls:
        certs = work / "certs"
        subprocess.run([sys.executable, "-m", "bench.cli", "certs", "--out", str(certs),
                        "--parties", str(n)], check=True, env=env, timeout=120)
    with namespaces(n, rtt_ms, rate_mbit) as (spaces, addresses):
        config = work / "parties.toml"
        write_hosts(config, [(a, BASE_PORT + i) for i, a in enumerate(addresses)], certs)
        procs = []
        for i, ns in enumerate(spaces):
            argv = [sys.executable, "-m", "bench.cli", "party", "--config", str(config),
                    "--id", str(i), *([] if tls else ["--insecure"]), *command,
                    "--json", str(work / f"party{i}.json")]
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, *argv], env=env, cwd=work))
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
    out = work / "party0.json"
    return codes, (json.loads(out.read_text()) if out.exists() else None)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.netns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--rate-mbit", type=float, default=100.0)
    parser.add_argument("--insecure", action="store_true", help="no TLS between the namespaces")
    parser.add_argument("--strict", action="store_true", help="exit 1 when namespaces are unavailable")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- then a safenet subcommand that `safenet party` supports")
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] or ["bench", "primitives"]
    reason = unavailable_reason(need_netem=bool(args.rtt_ms or args.rate_mbit))
    if reason:
        print(f"skipped: {reason}")
        return 1 if args.strict else 0
    codes, doc = run_in_namespaces(command, args.parties, args.rtt_ms, args.rate_mbit,
                                   tls=not args.insecure)
    print(f"exit codes: {codes}")
    if doc is not None:
        print(json.dumps(doc.get("results", doc), indent=1)[:4000])
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
