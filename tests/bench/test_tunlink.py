"""The userspace link emulator (bench.tunlink) and `python -m bench.netns --link tun`.

* the router's scheduling (one-way delay, serialization at the rate per
  directed link, FIFO, drops of unknown addresses, non-IPv4 and overflow) on
  datagram socket pairs standing in for TUN devices: runs anywhere;
* as root with /dev/net/tun and `ip`: real kernel TCP between two namespaces
  sees the round trip (small messages) and the rate (2 MB one way) asked
  for; three parties of `safenet party bench primitives` run through it,
  correct, with a mul round no shorter than the one-way delay; Ctrl-C leaves
  no namespace and no router behind.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench import tunlink

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")


def _needs_tun():
    reason = tunlink.unavailable_reason()
    if reason:
        pytest.skip(reason)


def _packet(dst, seq, size):
    """An IPv4 header (only version and destination matter to the router) + payload."""
    head = bytes([0x45]) + bytes(15) + socket.inet_aton(dst)
    return head + seq.to_bytes(4, "big") + bytes(size - 24)


# ---- the router on socket pairs (no root needed) ------------------------------------------
class FakeTuns:
    """route() on datagram socket pairs: ends[i] is party i's side of its 'TUN'."""

    def __init__(self, n, **kw):
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(n)]
        self.ends = [a for a, _ in pairs]
        self.router_ends = [b for _, b in pairs]
        for b in self.router_ends:
            b.setblocking(False)
        for a in self.ends:
            a.settimeout(5)
        self.stop_r, self.stop_w = os.pipe()
        self.stats = {}
        addresses = [f"{tunlink.SUBNET}.{i + 1}" for i in range(n)]
        self.thread = threading.Thread(target=tunlink.route, kwargs=dict(
            fds=[b.fileno() for b in self.router_ends], addresses=addresses, gso=False,
            control=self.stop_r, stats=self.stats, **kw))
        self.thread.start()

    def close(self):
        os.write(self.stop_w, b"x")
        self.thread.join(5)
        for s in self.ends + self.router_ends:
            s.close()
        os.close(self.stop_r)
        os.close(self.stop_w)


def test_router_delays_serializes_and_keeps_order():
    """10 packets of 1250 B at 10 Mbit/s (1 ms each) after a 5 ms one-way delay:
    packet k arrives no earlier than (k+1) ms + 5 ms, in order; the other
    direction is an independent link; unknown and non-IPv4 packets are dropped."""
    tuns = FakeTuns(2, rtt_ms=10, rate_mbit=10)
    try:
        t0 = time.monotonic()
        for k in range(10):
            tuns.ends[1].send(_packet("10.231.9.1", k, 1250))
        tuns.ends[0].send(_packet("10.231.9.2", 99, 1250))       # the reverse link: not queued
        tuns.ends[1].send(_packet("10.231.9.77", 0, 100))        # nobody
        tuns.ends[1].send(bytes([0x60]) + bytes(59))              # IPv6
        back = tuns.ends[1].recv(70000)
        t_back = time.monotonic() - t0
        got = []
        for _ in range(10):
            pkt = tuns.ends[0].recv(70000)
            got.append((int.from_bytes(pkt[20:24], "big"), time.monotonic() - t0))
    finally:
        tuns.close()
    assert int.from_bytes(back[20:24], "big") == 99 and 0.006 <= t_back < 0.030
    assert [k for k, _ in got] == list(range(10))
    for k, t in got:
        assert t >= 0.005 + (k + 1) * 0.001 - 1e-4, (k, t)
    assert got[-1][1] < 0.015 + 0.030
    s = tuns.stats
    assert s["unknown"] == 1 and s["not_ipv4"] == 1 and s["delivered"] == 11
    assert s["links"] == {"0->1": 1250, "1->0": 12500}


def test_router_drops_beyond_the_queue_limit():
    tuns = FakeTuns(2, rtt_ms=2, rate_mbit=1, queue_bytes=5000)
    try:
        for k in range(8):
            tuns.ends[1].send(_packet("10.231.9.1", k, 1000))
        got = [int.from_bytes(tuns.ends[0].recv(70000)[20:24], "big") for _ in range(5)]
    finally:
        tuns.close()
    assert got == [0, 1, 2, 3, 4] and tuns.stats["overflow"] == 3


# ---- real TCP in namespaces (root) ----------------------------------------------------------
def test_round_trip_of_small_messages_is_the_configured_rtt():
    _needs_tun()
    with tunlink.netns_with_tun_links(2, rtt_ms=20, rate_mbit=100,
                                      tag=f"snt{os.getpid() % 10000}") as (spaces, addrs, link):
        rtts = sorted(tunlink.measure_tcp(spaces, addrs, "p", 64, 15))
        subprocess.run(["ip", "netns", "exec", spaces[1], sys.executable, "-c",
                        "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                        ".sendto(b'x', ('10.231.9.200', 9))"], check=True, timeout=30)
        time.sleep(0.05)
    assert rtts[0] >= 0.020, rtts
    assert rtts[len(rtts) // 2] < 0.020 + 0.004, rtts
    assert link.stats["unknown"] >= 1 and link.stats["overflow"] == 0
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert spaces[0] not in left and spaces[1] not in left


def test_bulk_transfer_takes_size_over_rate():
    """2 MB one way at 20 Mbit/s: 0.8 s of payload (plus headers and slow start)."""
    _needs_tun()
    with tunlink.netns_with_tun_links(2, rtt_ms=0, rate_mbit=20,
                                      tag=f"snt{os.getpid() % 10000}") as (spaces, addrs, link):
        seconds = tunlink.measure_tcp(spaces, addrs, "b", 2_000_000)
    assert 0.8 <= seconds < 1.3, seconds
    assert link.stats["bytes"] >= 2_000_000


def _netns_cmd(workdir, *extra):
    return [sys.executable, "-m", "bench.netns", "--parties", "3", "--rtt-ms", "20",
            "--rate-mbit", "100", "--link", "tun", "--workdir", str(workdir), *extra,
            "--", "bench", "primitives", "--ops", "mul", "--n", "1000"]


def test_three_parties_through_the_tun_links(tmp_path):
    _needs_tun()
    r = subprocess.run(_netns_cmd(tmp_path, "--insecure"), env=ENV, capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "link: tun (userspace router bench.tunlink: one-way delay 10 ms (RTT 20 ms), " \
           "100 Mbit/s per directed link" in r.stdout
    assert "exit codes: [0, 0, 0]" in r.stdout
    res = json.loads((tmp_path / "party0.json").read_text())["results"][0]
    assert res["correct"] is True and res["bytes_sent"] == [8000, 8000, 8000]
    assert res["rounds"] == 1
    # one round of mul is one message to a neighbour: at least the one-way delay (rtt/2)
    assert 0.010 <= res["median_seconds"] < 0.5, res["seconds"]


def _router_children(pid):
    kids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"_router" in cmd:
            kids.append(int(entry.name))
    return kids


def test_ctrl_c_stops_router_and_deletes_namespaces(tmp_path):
    _needs_tun()
    cmd = _netns_cmd(tmp_path, "--insecure")
    cmd[cmd.index("1000")] = "100000"
    cmd += ["--repeat", "50"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=tmp_path, start_new_session=True)
    tag = f"sn{proc.pid % 100000}p"
    try:
        line = proc.stdout.readline()
        assert line.startswith("link: tun"), line
        routers = _router_children(proc.pid)
        assert len(routers) == 1
        time.sleep(1.0)                                  # parties running
        os.killpg(proc.pid, signal.SIGINT)               # what Ctrl-C in a terminal does
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert tag not in left, left
    time.sleep(0.2)
    assert not Path(f"/proc/{routers[0]}").exists() or \
        "Z" in Path(f"/proc/{routers[0]}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_router_shares_rate_per_link_or_per_host():
    """Parties 1 and 2 each send 5 packets of 1250 B to party 0 at 10 Mbit/s:
    per directed link both finish after ~5 ms; per host (party 0's downlink)
    the 10 packets queue: ~11 ms (1 ms uplink + 10 ms downlink)."""
    last = {}
    for share in ("link", "host"):
        tuns = FakeTuns(3, rtt_ms=0, rate_mbit=10, share=share)
        try:
            t0 = time.monotonic()
            for k in range(5):
                tuns.ends[1].send(_packet("10.231.9.1", k, 1250))
                tuns.ends[2].send(_packet("10.231.9.1", 10 + k, 1250))
            seqs = [int.from_bytes(tuns.ends[0].recv(70000)[20:24], "big") for _ in range(10)]
            last[share] = time.monotonic() - t0
        finally:
            tuns.close()
        assert [q for q in seqs if q < 10] == list(range(5))      # FIFO per link
        assert [q for q in seqs if q >= 10] == list(range(10, 15))
    assert last["link"] >= 0.005 and last["host"] >= 0.011 - 1e-4, last
    assert last["link"] < last["host"] - 0.003, last
