"""A userspace link emulator for parties in network namespaces: a netem
stand-in for kernels without the netem qdisc. Real kernel TCP runs in every
namespace; only the wire between them is emulated. Stdlib only.

    with netns_with_tun_links(3, rtt_ms=40, rate_mbit=100) as (spaces, addresses, link):
        ... ip netns exec spaces[i] ...   # party i is addresses[i] = 10.231.9.(i+1)
    link.stats                             # the router's counters, after the block

Topology: one TUN device per party (IFF_TUN | IFF_NO_PI), created in the
root namespace, moved into party i's namespace as `tun0` with address
SUBNET.(i+1)/24 (as bench.netns), and brought up. A router process in the
root namespace holds every TUN file descriptor (the creating process
passes them on and closes its own copies, so the devices vanish with the
router). It reads IPv4 packets from each TUN, looks at the destination
address and hands the packet to the destination party's TUN:

- after a serialization delay at `rate_mbit` per directed link i -> j: the
  link is busy until next_free[i][j]; a packet of b bytes starts at
  max(arrival, next_free) and ends b*8/rate later (next_free moves on), so
  the packets of one link share its bandwidth and keep their FIFO order;
  links are full duplex and independent (no shared hub capacity);
- plus a fixed one-way delay of rtt_ms / 2.
With share="host" the rate limits each party's uplink (all it sends) and
downlink (all it receives) instead, like netem on the veth + bridge
topology of bench.netns (i's eth0 egress, then the hub's port toward j,
each with half the delay): a packet is serialized on i's uplink, travels
rtt/4, is serialized on j's downlink (in the order the router read the
packets, a close approximation of the hub's order), travels rtt/4.
Due packets wait in one heap ordered by (due time, arrival sequence); the
loop sleeps in select() until the next due time or the next readable TUN
(never busy-spins; select's timeout has microsecond resolution). Packets
to addresses outside the parties, non-IPv4 packets (IPv6 router
solicitations) and packets beyond a link's queue limit (drop-tail,
default QUEUE_BYTES per directed link, counting packets being serialized
and in flight, as netem's limit does) are dropped and counted.

Packet size: the TUN devices keep the standard MTU of 1500, so TCP uses
MSS 1448 with a real initial window (10 x 1448 B), slow start and ACK
clock, but they take GSO/TSO super-packets (IFF_VNET_HDR + TUNSETOFFLOAD:
TCP hands the device up to 64 KB at once with a virtio-net header; the
router passes the header on unchanged and the receiving stack takes the
packet as a GRO'd one). That cuts the packets of a bulk transfer 20-40x,
and the router's CPU with them, without the unrealistically large initial
window (10 x MSS = 90-160 KB) that a 9000-16000 byte MTU would give.
The rate counts the IP bytes of every segment (headers repeated per
segment, no link-layer framing). A super-packet is serialized and delivered
as a whole, so it arrives up to its size/rate later than its first segment
would on a real wire (TCP sizes them from its pacing rate: at most 34 KB,
2.8 ms, seen at 100 Mbit/s and 40 ms); the last byte of a transfer is on
time. `gso=False` (and any `mtu`) gives plain packets instead.

Limits (measured with `python -m bench.tunlink measure` on a shared 2-core
VM; figures in docs/hosts.md): unshaped, one TCP flow crosses the router at
about 10 Gbit/s with GSO (2 Gbit/s with plain 1500-byte packets, ~200k
packets/s); shaped, 4-6 Gbit/s in total with GSO and ~120k packets/s
(1.2 Gbit/s) without, so 100 Mbit/s on all 12 directed links of 4 parties
is far within reach. The cost is CPU: roughly 10-40 us of one core per
packet, taken from the parties on a small machine. Timer precision: the
loop wakes EARLY before a due time further than 2 EARLY away and then
sleeps the rest (a long sleep in this VM ends ~0.2 ms late, a short one
~25 us), with 1 ns timer slack and nice -10; mean lateness of a delivery
is 0.05-0.2 ms, the worst seen 5-14 ms with three parties computing on two
cores (`mean_late_ms`, `max_late_ms` in the counters). Every party's
traffic crosses this one router process.
"""
import contextlib
import fcntl
import heapq
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

SUBNET = "10.231.9"
DEV = "tun0"                 # the device's name inside each namespace
DEFAULT_MTU = 1500
QUEUE_BYTES = 4 << 20        # drop-tail limit per directed link (bytes queued or in flight)
READ_SIZE = 65535 + 64      # an IPv4 packet (GSO too) is at most 64 KB, + the virtio-net header
BATCH = 64                   # packets read from one TUN before looking at the others
SHARES = ("link", "host")    # what the rate limits: each directed link, or each party's up/downlink
EARLY = 0.001                # a wait longer than 2 EARLY ends EARLY before the due time

TUNSETIFF = 0x400454CA
TUNSETOFFLOAD = 0x400454D0
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6 = 0x01, 0x02, 0x04
VNET_HDR = 10                # struct virtio_net_hdr (TUN's default vnet_hdr_sz)
VIRTIO_NET_HDR_GSO_NONE = 0


def _ip(*args):
    return subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


def unavailable_reason():
    """Why TUN links cannot be made here (root, `ip`, /dev/net/tun), or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces and TUN devices need root"
    if shutil.which("ip") is None:
        return "the `ip` command is missing (Debian package iproute2)"
    try:
        fd, _ = open_tun(f"snprobe{os.getpid() % 100000}", gso=True)
        os.close(fd)                     # a non-persistent TUN vanishes with its fd
    except OSError as exc:
        return f"cannot create a TUN device (/dev/net/tun: {exc.strerror or exc})"
    return None


def open_tun(name, gso=True):
    """Create TUN device `name` (IFF_TUN | IFF_NO_PI, non-blocking); returns
    (fd, name). With gso it carries virtio-net headers and TCP/IP offloads."""
    flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if gso else 0)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
        if gso:
            fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    except OSError:
        os.close(fd)
        raise
    return fd, ifr[:16].rstrip(b"\0").decode()


# ---- the router (runs in its own process: `python -I tunlink.py _router CONFIG`) ---------------
def route(fds, addresses, rtt_ms=0.0, rate_mbit=0.0, gso=True, queue_bytes=QUEUE_BYTES,
          control=None, stats=None, share="link"):
    """Forward packets between the TUN `fds` (party i has IPv4 `addresses[i]`)
    until `control` (a readable fd) is readable; returns the counters.
    share="link": the rate is per directed link; "host": per party uplink
    and downlink (see the module docstring)."""
    if share not in SHARES:
        raise ValueError(f"share must be one of {SHARES}, not {share!r}")
    per_host = share == "host"
    n = len(fds)
    hdr = VNET_HDR if gso else 0
    delay = rtt_ms / 2000.0
    byte_time = 8.0 / (rate_mbit * 1e6) if rate_mbit else 0.0
    shaped = bool(delay or byte_time)
    where = {socket.inet_aton(a): j for j, a in enumerate(addresses)}
    free = [[0.0] * n for _ in range(n)]          # link i -> j busy until
    up, down = [0.0] * n, [0.0] * n               # share="host": uplink of i, downlink of j
    queued = [[0] * n for _ in range(n)]          # bytes on link i -> j (queued or in flight)
    s = stats if stats is not None else {}
    for k in ("packets", "bytes", "delivered", "unknown", "not_ipv4", "overflow", "write_errors",
              "max_late_ms", "max_queue_bytes", "gso_packets", "max_packet"):
        s.setdefault(k, 0)
    s["links"] = {}
    link_bytes = [[0] * n for _ in range(n)]
    heap = []
    seq = 0
    watch = list(fds) + ([control] if control is not None else [])
    index = {fd: i for i, fd in enumerate(fds)}
    unpack_gso = struct.Struct("=BBHH").unpack_from     # flags, gso_type, hdr_len, gso_size
    monotonic, read, write = time.monotonic, os.read, os.write
    heappush, heappop = heapq.heappush, heapq.heappop
    late = late_sum = 0.0
    while True:
        now = monotonic()
        while heap and heap[0][0] <= now:
            due, _, src, dst, pkt, size = heappop(heap)
            queued[src][dst] -= size
            late_sum += now - due
            if now - due > late:
                late = now - due
            try:
                write(fds[dst], pkt)
                s["delivered"] += 1
            except OSError:
                s["write_errors"] += 1
            now = monotonic()
        timeout = None
        if heap:        # a long sleep ends late (idle-state exit): wake up early, then sleep short
            timeout = heap[0][0] - now
            timeout = max(0.0, timeout - EARLY if timeout > 2 * EARLY else timeout)
        ready, _, _ = select.select(watch, [], [], timeout)
        if control is not None and control in ready:
            break
        for fd in ready:
            src = index[fd]
            for _ in range(BATCH):
                try:
                    pkt = read(fd, READ_SIZE)
                except BlockingIOError:
                    break
                except OSError:                  # device gone (its namespace was deleted)
                    watch.remove(fd)
                    s["read_errors"] = s.get("read_errors", 0) + 1
                    break
                now = monotonic()
                length = len(pkt) - hdr
                s["packets"] += 1
                if length < 20 or pkt[hdr] >> 4 != 4:
                    s["not_ipv4"] += 1
                    continue
                dst = where.get(pkt[hdr + 16:hdr + 20])
                if dst is None or dst == src:
                    s["unknown"] += 1
                    continue
                size = length
                if hdr:
                    _, gso_type, hdr_len, gso_size = unpack_gso(pkt, 0)
                    if gso_type != VIRTIO_NET_HDR_GSO_NONE and gso_size:
                        s["gso_packets"] += 1
                        segments = -(-(length - hdr_len) // gso_size)
                        size += (segments - 1) * hdr_len     # headers repeated per segment
                s["bytes"] += size
                link_bytes[src][dst] += size
                if size > s["max_packet"]:
                    s["max_packet"] = size
                if not shaped:
                    try:
                        write(fds[dst], pkt)
                        s["delivered"] += 1
                    except OSError:
                        s["write_errors"] += 1
                    continue
                if queued[src][dst] + size > queue_bytes:
                    s["overflow"] += 1
                    continue
                queued[src][dst] += size
                if queued[src][dst] > s["max_queue_bytes"]:
                    s["max_queue_bytes"] = queued[src][dst]
                if per_host:         # i's uplink, half the delay, j's downlink, the other half
                    start = up[src] if up[src] > now else now
                    up[src] = done = start + size * byte_time
                    start = down[dst] if down[dst] > done + delay / 2 else done + delay / 2
                    down[dst] = done = start + size * byte_time
                    due = done + delay / 2
                else:
                    start = free[src][dst]
                    if start < now:
                        start = now
                    free[src][dst] = done = start + size * byte_time
                    due = done + delay
                heappush(heap, (due, seq, src, dst, pkt, size))
                seq += 1
    s["max_late_ms"] = round(late * 1000, 3)
    s["mean_late_ms"] = round(late_sum * 1000 / max(1, s["delivered"]), 4) if shaped else 0.0
    s["links"] = {f"{i}->{j}": link_bytes[i][j] for i in range(n) for j in range(n)
                  if link_bytes[i][j]}
    return s


def _router_main(config):
    cfg = json.loads(config)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent stops us (closes stdin)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -10)      # prompt wake-ups on a busy machine
    except OSError:
        pass
    try:                                             # timer slack 1 ns (default 50 us)
        import ctypes
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)      # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass
    fds = []
    for fd in cfg["fds"]:            # low numbers for select() (a caller may have > 1024 fds)
        fds.append(os.dup(fd))
        os.close(fd)
    stats = {}
    print("ready", flush=True)
    try:
        route(fds, cfg["addresses"], cfg["rtt_ms"], cfg["rate_mbit"], cfg["gso"],
              cfg["queue_bytes"], control=sys.stdin.fileno(), stats=stats, share=cfg["share"])
    finally:
        stats["router_cpu_s"] = round(sum(os.times()[:2]), 3)
        print(json.dumps(stats), flush=True)


class TunLinks:
    """TUN devices in `spaces` (one per party) and the router process that
    joins them. Use as a context manager; `stats` holds the router's
    counters once it has stopped."""

    def __init__(self, spaces, rtt_ms=0.0, rate_mbit=0.0, *, subnet=SUBNET, mtu=DEFAULT_MTU,
                 gso=True, queue_bytes=QUEUE_BYTES, share="link", tag=None):
        if share not in SHARES:
            raise ValueError(f"share must be one of {SHARES}, not {share!r}")
        self.share = share
        self.spaces = list(spaces)
        self.rtt_ms, self.rate_mbit = float(rtt_ms or 0), float(rate_mbit or 0)
        self.addresses = [f"{subnet}.{i + 1}" for i in range(len(self.spaces))]
        self.mtu, self.gso, self.queue_bytes = int(mtu), bool(gso), int(queue_bytes)
        self.tag = tag or f"sn{os.getpid() % 100000}"
        self.proc = None
        self.stats = None
        self.router_failed = None        # the router's exit code if it died before stop()

    def describe(self):
        delay = (f"one-way delay {self.rtt_ms / 2:g} ms (RTT {self.rtt_ms:g} ms)"
                 if self.rtt_ms else "no delay")
        rate = ("no rate limit" if not self.rate_mbit else
                f"{self.rate_mbit:g} Mbit/s per directed link" if self.share == "link" else
                f"{self.rate_mbit:g} Mbit/s per party uplink and per party downlink")
        packets = (f"MTU {self.mtu} with GSO super-packets up to 64 KB" if self.gso
                   else f"MTU {self.mtu}, no offloads")
        return (f"tun (userspace router bench.tunlink: {delay}, {rate}, {packets}, "
                f"drop-tail at {self.queue_bytes >> 10} KiB per link)")

    def start(self):
        fds = []
        try:
            for i, ns in enumerate(self.spaces):
                fd, name = open_tun(f"{self.tag}t{i}"[:15], gso=self.gso)
                fds.append(fd)
                _ip("link", "set", "dev", name, "netns", ns)
                _ip("-n", ns, "link", "set", "dev", name, "name", DEV)
                _ip("-n", ns, "link", "set", "dev", DEV, "mtu", str(self.mtu))
                _ip("-n", ns, "addr", "add", f"{self.addresses[i]}/24", "dev", DEV)
                _ip("-n", ns, "link", "set", "dev", DEV, "up")
                _ip("-n", ns, "link", "set", "dev", "lo", "up")
            config = json.dumps({"fds": fds, "addresses": self.addresses, "rtt_ms": self.rtt_ms,
                                 "rate_mbit": self.rate_mbit, "gso": self.gso,
                                 "queue_bytes": self.queue_bytes, "share": self.share})
            self.proc = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), "_router", config],
                pass_fds=fds, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            line = self.proc.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"the TUN router did not start (said {line!r}, exit code "
                                   f"{self.proc.poll()})")
        except BaseException:
            self.stop()
            raise
        finally:
            for fd in fds:            # the router holds them now; the devices die with it
                os.close(fd)
        return self

    def stop(self):
        """Stop the router (the TUN devices go with it); idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return self.stats
        if proc.poll() is not None:
            self.router_failed = proc.returncode
        try:
            out, _ = proc.communicate(timeout=10)     # closes its stdin: the stop signal
            lines = [x for x in out.splitlines() if x.startswith("{")]
            if lines:
                self.stats = json.loads(lines[-1])
        except (subprocess.TimeoutExpired, OSError, ValueError):
            proc.kill()
            proc.wait()
        return self.stats

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@contextlib.contextmanager
def netns_with_tun_links(n, rtt_ms=0.0, rate_mbit=0.0, tag=None, **options):
    """Namespaces <tag>p0..p{n-1} joined by TunLinks; yields (namespace
    names, addresses, the TunLinks). Always deletes what it created."""
    tag = tag or f"sn{os.getpid() % 100000}"
    spaces = [f"{tag}p{i}" for i in range(n)]
    made = []
    try:
        for ns in spaces:
            _ip("netns", "add", ns)
            made.append(ns)
        with TunLinks(spaces, rtt_ms, rate_mbit, tag=tag, **options) as link:
            yield spaces, link.addresses, link
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


# ---- measuring the emulator ----------------------------------------------------------------
_SINK = r"""
import socket, sys, time
s = socket.create_server(("0.0.0.0", int(sys.argv[1])))
print("listening", flush=True)
c, _ = s.accept()
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
mode = c.recv(1)
if mode == b"p":                                  # ping-pong: echo fixed-size messages
    size = int(sys.argv[2])
    while True:
        buf = b""
        while len(buf) < size:
            part = c.recv(size - len(buf))
            if not part:
                sys.exit(0)
            buf += part
        c.sendall(buf)
else:                                             # bulk: count bytes, answer one byte at EOF
    total = 0
    while True:
        part = c.recv(1 << 20)
        if part in (b"", b"\0"):
            break
        total += len(part)
        if part.endswith(b"\0"):
            break
    c.sendall(b"k")
    print(total, flush=True)
"""

_SOURCE = r"""
import json, socket, sys, time
host, port, mode, amount, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
c = socket.create_connection((host, port), timeout=60)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "p":
    c.sendall(b"p")
    msg = b"x" * amount
    times = []
    for _ in range(count):
        t = time.perf_counter()
        c.sendall(msg)
        got = 0
        while got < amount:
            got += len(c.recv(amount - got))
        times.append(time.perf_counter() - t)
    print(json.dumps({"rtt_s": times}))
else:
    c.sendall(b"b")
    block = b"x" * (1 << 20)
    t = time.perf_counter()
    left = amount
    while left > 0:
        left -= c.send(block[:min(left, len(block))])
    c.sendall(b"\0")
    c.recv(1)
    print(json.dumps({"seconds": time.perf_counter() - t, "bytes": amount}))
"""


def _ns_python(ns, code, *args, **kw):
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", "-c", code,
                             *map(str, args)], stdout=subprocess.PIPE, text=True, **kw)


def measure_tcp(spaces, addresses, mode, amount, count=1, port=15390, timeout=60):
    """Run a TCP test from spaces[1] to spaces[0] (addresses[0]): mode "p"
    ping-pongs `count` messages of `amount` bytes (returns their round-trip
    times in seconds), mode "b" sends `amount` bytes one way (returns the
    seconds until the receiver has them all)."""
    sink = _ns_python(spaces[0], _SINK, port, amount)
    try:
        if sink.stdout.readline().strip() != "listening":
            raise RuntimeError("the TCP sink did not start")
        src = subprocess.run(["ip", "netns", "exec", spaces[1], sys.executable, "-I", "-c",
                              _SOURCE, addresses[0], str(port), mode, str(amount), str(count)],
                             capture_output=True, text=True, timeout=timeout)
        if src.returncode != 0:
            raise RuntimeError(f"the TCP source failed: {src.stderr.strip()}")
        doc = json.loads(src.stdout)
    finally:
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sink.kill()
            sink.wait()
    return doc["rtt_s"] if mode == "p" else doc["seconds"]


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m bench.tunlink",
        description="Measure the TUN link emulator: RTT of small messages and the time of a bulk "
                    "transfer between two (or more, in parallel pairs) namespaces. Needs root.")
    parser.add_argument("command", choices=["measure"])
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--rate-mbit", type=float, default=0.0)
    parser.add_argument("--mb", type=float, default=100.0, help="bulk transfer size in MB")
    parser.add_argument("--pairs", type=int, default=1,
                        help="independent sender/receiver pairs run at once (2*pairs parties)")
    parser.add_argument("--mtu", type=int, default=DEFAULT_MTU)
    parser.add_argument("--no-gso", action="store_true")
    parser.add_argument("--share", choices=SHARES, default="link")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    amount = int(args.mb * 1e6)
    with netns_with_tun_links(2 * args.pairs, args.rtt_ms, args.rate_mbit, mtu=args.mtu,
                              gso=not args.no_gso, share=args.share) as (spaces, addresses, link):
        print(link.describe())
        rtts = measure_tcp(spaces, addresses, "p", 64, 20)
        print(f"ping-pong 64 B: median RTT {sorted(rtts)[len(rtts) // 2] * 1e3:.3f} ms, "
              f"max {max(rtts) * 1e3:.3f} ms")
        t0 = time.perf_counter()
        sinks = [_ns_python(spaces[2 * k], _SINK, 15390, 0) for k in range(args.pairs)]
        for s in sinks:
            s.stdout.readline()
        sources = [_ns_python(spaces[2 * k + 1], _SOURCE, addresses[2 * k], 15390, "b", amount, 1)
                   for k in range(args.pairs)]
        secs = [json.loads(p.communicate(timeout=600)[0])["seconds"] for p in sources]
        for s in sinks:
            s.wait(timeout=10)
        wall = time.perf_counter() - t0
        for k, t in enumerate(secs):
            print(f"pair {k}: {amount / 1e6:g} MB in {t:.3f} s = {amount * 8 / t / 1e6:.1f} Mbit/s")
        print(f"aggregate: {args.pairs * amount * 8 / max(secs) / 1e6:.1f} Mbit/s "
              f"(wall {wall:.2f} s)")
    print("router:", json.dumps(link.stats))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_router":
        _router_main(sys.argv[2])
    else:
        sys.exit(main())
