"""Channels between parties: in-memory (threads) and TCP (processes, hosts;
the TCP transport lives in mpcore.tcp and is re-exported here).

Imports errors, ring (and tcp, which imports tls lazily). Both transports
share `Network`, which does the accounting (every payload passes
`Ledger.on_send` / `on_recv`), the timeouts and the abort semantics; a
transport only moves frames.

Frame: a 24-byte header (kind u8, 3 pad, round stamp u32, op seq u64,
payload length u64) then the payload. Kinds: DATA, ABORT (payload: the
reason, utf-8), CLOSE (graceful end), META (end-of-run bookkeeping such as
a party's ledger, outside any op accounting: `send_meta` / `recv_meta`). A
receive that waits longer than the timeout raises PeerTimeout naming the
peer and the op; an ABORT from a peer
raises PeerAborted with its reason; a connection lost before CLOSE raises
PeerLost. Waiting for one peer also notices within `POLL_S` that another
peer failed, so an error reaches every party fast.

TCP set-up and data path: see mpcore.tcp.
"""
import queue
import struct
import time

import numpy as np

from .errors import PeerAborted, PeerLost, PeerTimeout, ProtocolDesync
from .ring import DTYPE

HEADER = struct.Struct("<BxxxIQQ")
KIND_DATA, KIND_ABORT, KIND_CLOSE, KIND_META = 1, 2, 3, 4
POLL_S = 0.2
DEFAULT_TIMEOUT_S = 60.0
HANDSHAKE_S = 10.0          # an accepted connection must say who it is within this time
_HELLO = struct.Struct("<8sI")
_MAGIC = b"SAFENET2"
_ANSWER = struct.Struct("<BH")     # status, reason length; then the reason (utf-8)
_ACCEPTED, _REFUSED, _REFUSED_IDENTITY = 0, 1, 2

Empty = queue.Empty        # what a transport's _get raises when nothing arrived in time


def _as_bytes_view(payload):
    if isinstance(payload, np.ndarray):
        if payload.dtype != DTYPE:
            raise TypeError(f"send: expected uint64 ring elements, got {payload.dtype}")
        if not payload.flags.c_contiguous:
            payload = np.ascontiguousarray(payload)
        return memoryview(payload.reshape(-1)).cast("B")
    return memoryview(payload).cast("B")


class Network:
    """One party's endpoint to all its peers (transport-independent part)."""

    def __init__(self, party_id: int, n_parties: int, ledger, timeout: float = DEFAULT_TIMEOUT_S):
        self.party_id = party_id
        self.n_parties = n_parties
        self.ledger = ledger
        self.timeout = timeout
        self.failed = {}       # peer -> exception, set when a peer aborts or is lost
        self.closed_peers = set()

    # ---- transport hooks --------------------------------------------------
    def _transmit(self, peer, kind, stamp, seq, view):  # pragma: no cover - abstract
        raise NotImplementedError

    def _get(self, peer, timeout):  # -> (kind, stamp, seq, payload) or raises queue.Empty
        raise NotImplementedError  # pragma: no cover

    def _poll(self, peer):
        """A frame from `peer` that is already here, or None (never waits)."""
        return None

    # ---- public API ---------------------------------------------------------
    def peers(self):
        return [p for p in range(self.n_parties) if p != self.party_id]

    def _check_peer(self, peer):
        if not (0 <= peer < self.n_parties) or peer == self.party_id:
            raise ValueError(f"party {self.party_id}: invalid peer {peer} "
                             f"(parties are 0..{self.n_parties - 1})")

    def send(self, peer: int, payload):
        """Send a uint64 array (or bytes) to `peer`; counted in the ledger."""
        self._check_peer(peer)
        view = _as_bytes_view(payload)
        seq, stamp = self.ledger.on_send(peer, view.nbytes, view.nbytes + HEADER.size)
        self._transmit(peer, KIND_DATA, stamp, seq, view)

    def recv_bytes(self, peer: int, nbytes: int = None) -> bytes:
        self._check_peer(peer)
        stamp, seq, payload = self._wait(peer)
        op = self.ledger.current_op
        if seq != self.ledger.current_seq:
            raise ProtocolDesync(
                f"party {self.party_id}: party {peer} sent a message for op #{seq} while this "
                f"party is in op #{self.ledger.current_seq} ({op}): the parties are not "
                f"running the same program, or party {peer} deviates", peer)
        if nbytes is not None and len(payload) != nbytes:
            raise ProtocolDesync(
                f"party {self.party_id}: party {peer} sent {len(payload)} bytes in op {op}, "
                f"expected {nbytes}", peer)
        self.ledger.on_recv(peer, len(payload), stamp)
        return payload

    def recv(self, peer: int, count: int = None) -> np.ndarray:
        """Receive a uint64 array of `count` elements from `peer`."""
        payload = self.recv_bytes(peer, None if count is None else 8 * count)
        if len(payload) % 8:
            raise ProtocolDesync(f"party {self.party_id}: party {peer} sent {len(payload)} "
                                 f"bytes, not a whole number of ring elements", peer)
        return np.frombuffer(payload, dtype=DTYPE)

    def exchange(self, sends: dict, expect: dict) -> dict:
        """Send every payload in `sends` ({peer: array}), then receive
        {peer: count} from `expect`. One communication round."""
        for peer, payload in sends.items():
            self.send(peer, payload)
        return {peer: self.recv(peer, count) for peer, count in expect.items()}

    def send_meta(self, peer: int, data: bytes):
        """Send end-of-run bookkeeping (e.g. a pickled ledger) to `peer`: not
        counted in the ledger, not part of any op."""
        self._check_peer(peer)
        self._transmit(peer, KIND_META, 0, 0, memoryview(data).cast("B"))

    def recv_meta(self, peer: int) -> bytes:
        """Receive what `peer` sent with send_meta (with the usual timeout)."""
        self._check_peer(peer)
        return bytes(self._wait(peer, KIND_META)[2])

    def _wait(self, peer, want=KIND_DATA):
        frame = None if self.failed else self._poll(peer)       # fast path: already here
        if frame is not None and frame[0] == want:
            return frame[1], frame[2], frame[3]
        deadline = time.monotonic() + self.timeout
        while True:
            if frame is None:
                if peer in self.failed:
                    raise self.failed[peer]
                others = [p for p in self.failed if p != peer]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PeerTimeout(
                        f"party {self.party_id}: no message from party {peer} within "
                        f"{self.timeout:g} s (op {self.ledger.current_op})", peer)
                try:
                    frame = self._get(peer, min(POLL_S, remaining))
                except Empty:
                    if others:
                        raise self.failed[others[0]]
                    continue
            kind, stamp, seq, payload = frame
            frame = None
            if kind == want:
                return stamp, seq, payload
            if kind in (KIND_DATA, KIND_META):
                what = {KIND_DATA: "a data message", KIND_META: "its end-of-run message"}
                raise ProtocolDesync(
                    f"party {self.party_id}: party {peer} sent {what[kind]} while this party "
                    f"expected {what[want]} (op {self.ledger.current_op}): the parties are not "
                    f"running the same program", peer)
            if kind == KIND_ABORT:
                err = PeerAborted(f"party {self.party_id}: party {peer} aborted: "
                                  f"{bytes(payload).decode(errors='replace')}", peer)
            elif kind == KIND_CLOSE:
                err = PeerLost(f"party {self.party_id}: party {peer} closed the connection "
                               f"while this party expected a message (op {self.ledger.current_op})",
                               peer)
            else:
                reason = bytes(payload).decode(errors="replace") or "connection closed"
                err = PeerLost(f"party {self.party_id}: lost the connection to party {peer} "
                               f"while this party expected a message (op {self.ledger.current_op}):"
                               f" party {peer} exited, crashed or became unreachable ({reason})",
                               peer)
            self.failed[peer] = err
            raise err

    def abort(self, reason: str):
        """Tell every peer that this party gives up, and why (best effort)."""
        data = memoryview(reason.encode()[:4000])
        for peer in self.peers():
            try:
                self._transmit(peer, KIND_ABORT, 0, 0, data)
            except Exception:
                pass
        self._shutdown(wait=0.5)

    def close(self):
        """Graceful end of the run."""
        for peer in self.peers():
            try:
                self._transmit(peer, KIND_CLOSE, 0, 0, memoryview(b""))
            except Exception:
                pass
        self._shutdown(wait=self.timeout)

    def _shutdown(self, wait):
        pass


# ---------------------------------------------------------------------------
class MemoryHub:
    """Queues between the parties of one in-process run."""

    def __init__(self, n_parties: int):
        self.n_parties = n_parties
        self.queues = {(s, d): queue.SimpleQueue()
                       for s in range(n_parties) for d in range(n_parties) if s != d}


class MemoryNetwork(Network):
    def __init__(self, party_id, n_parties, ledger, hub: MemoryHub, timeout=DEFAULT_TIMEOUT_S):
        super().__init__(party_id, n_parties, ledger, timeout)
        self.hub = hub

    def _transmit(self, peer, kind, stamp, seq, view):
        # copy: the sender may reuse its buffer, exactly as after a socket send
        self.hub.queues[(self.party_id, peer)].put((kind, stamp, seq, bytes(view)))

    def _get(self, peer, timeout):
        return self.hub.queues[(peer, self.party_id)].get(timeout=timeout)

    def _poll(self, peer):
        try:
            return self.hub.queues[(peer, self.party_id)].get_nowait()
        except Empty:
            return None


from .tcp import TcpNetwork, make_listener  # noqa: E402,F401  (the TCP transport)
