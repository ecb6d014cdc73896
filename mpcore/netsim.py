"""Network emulation inside the channel layer: one-way latency and a
per-party uplink rate, for any transport (memory or TCP). Imports channels.

    run_parties(..., network=NetworkProfile(latency_s=0.02, bandwidth_Bps=12.5e6))

Model. Every party has one uplink of `bandwidth_Bps` bytes per second shared
by all its outgoing frames (as a host with one network interface), and every
frame arrives `latency_s` after its last byte left (one-way delay; a 40 ms
round trip is latency_s=0.02). A frame of b bytes (payload plus the 24-byte
header) sent at time t leaves the uplink at
    done = max(t, uplink_free) + b / bandwidth_Bps
and is handed to the real transport at done + latency_s by a delivery
thread per peer, in order. `send` returns at once, as with a kernel socket
buffer. Closing waits until every queued frame has been delivered.

This is an emulation inside the channel layer (the parties' kernel TCP
stacks see a plain loopback). `python -m bench.netns` shapes real kernel
links between network namespaces instead: netem where the kernel has it,
else the userspace TUN router of bench/tunlink.py. Loopback's own latency (~50 us) and rate (GB/s) come
on top and are negligible against WAN settings.
"""
import queue
import threading
import time
from dataclasses import dataclass

from .channels import HEADER


@dataclass(frozen=True)
class NetworkProfile:
    latency_s: float = 0.0          # one-way delay per frame
    bandwidth_Bps: float = 0.0      # per-party uplink; 0 = unlimited

    def __post_init__(self):
        if self.latency_s < 0 or self.bandwidth_Bps < 0:
            raise ValueError(f"network profile must be non-negative, got {self}")

    @property
    def active(self):
        return self.latency_s > 0 or self.bandwidth_Bps > 0

    def describe(self):
        rate = "unlimited" if not self.bandwidth_Bps else f"{self.bandwidth_Bps * 8 / 1e6:g} Mbit/s"
        return f"{2 * self.latency_s * 1e3:g} ms round trip, {rate} uplink per party"


LAN = NetworkProfile()
WAN = NetworkProfile(latency_s=0.020, bandwidth_Bps=100e6 / 8)   # 40 ms RTT, 100 Mbit/s


def emulate(network, profile: NetworkProfile):
    """Make `network` (a channels.Network instance) behave as if its links
    had `profile`. Returns the same instance."""
    if not profile.active:
        return network
    send_now = network._transmit
    shutdown = network._shutdown
    state = {"uplink_free": 0.0, "error": None}
    queues = {p: queue.SimpleQueue() for p in network.peers()}
    _STOP = object()

    def deliver(peer):
        q = queues[peer]
        while True:
            item = q.get()
            if item is _STOP:
                return
            due, kind, stamp, seq, data = item
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                send_now(peer, kind, stamp, seq, memoryview(data))
            except Exception as exc:  # surfaced on the next send
                state["error"] = exc

    threads = {p: threading.Thread(target=deliver, args=(p,), daemon=True,
                                   name=f"netsim{network.party_id}->{p}") for p in queues}
    for t in threads.values():
        t.start()

    def transmit(peer, kind, stamp, seq, view):
        if state["error"] is not None:
            raise state["error"]
        nbytes = view.nbytes + HEADER.size
        now = time.monotonic()
        start = max(now, state["uplink_free"])
        done = start + (nbytes / profile.bandwidth_Bps if profile.bandwidth_Bps else 0.0)
        state["uplink_free"] = done
        queues[peer].put((done + profile.latency_s, kind, stamp, seq, bytes(view)))

    def drained_shutdown(wait):
        for p, q in queues.items():
            q.put(_STOP)
        for t in threads.values():
            t.join(timeout=max(wait, 1.0))
        shutdown(wait)

    network._transmit = transmit
    network._shutdown = drained_shutdown
    network.profile = profile
    return network
