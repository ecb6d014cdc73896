"""Channels between parties: in-memory (threads) and TCP (processes, hosts).

Imports errors, ledger, ring. Both transports share `Network`, which does the
accounting (every payload passes `Ledger.on_send` / `on_recv`), the timeouts
and the abort semantics; a transport only moves frames.

Frame: a 24-byte header (kind u8, 3 pad, round stamp u32, op seq u64,
payload length u64) then the payload. Kinds: DATA, ABORT (payload: the
reason, utf-8), CLOSE (graceful end). A receive that waits longer than the
timeout raises PeerTimeout naming the peer and the op; an ABORT from a peer
raises PeerAborted with its reason; a connection lost before CLOSE raises
PeerLost. Waiting for one peer also notices within `POLL_S` that another
peer failed, so an error reaches every party fast.
"""
import queue
import socket
import ssl
import struct
import threading
import time

import numpy as np

from .errors import PeerAborted, PeerLost, PeerTimeout, ProtocolDesync, Unreachable
from .ring import DTYPE

HEADER = struct.Struct("<BxxxIQQ")
KIND_DATA, KIND_ABORT, KIND_CLOSE = 1, 2, 3
POLL_S = 0.2
DEFAULT_TIMEOUT_S = 60.0
_HELLO = struct.Struct("<8sI")
_MAGIC = b"SAFENET1"


def _as_bytes_view(payload):
    if isinstance(payload, np.ndarray):
        if payload.dtype != DTYPE:
            raise TypeError(f"send: expected uint64 ring elements, got {payload.dtype}")
        return memoryview(np.ascontiguousarray(payload)).cast("B")
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

    def _wait(self, peer):
        deadline = time.monotonic() + self.timeout
        while True:
            if peer in self.failed:
                raise self.failed[peer]
            others = [p for p in self.failed if p != peer]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout(
                    f"party {self.party_id}: no message from party {peer} within "
                    f"{self.timeout:g} s (op {self.ledger.current_op})", peer)
            try:
                kind, stamp, seq, payload = self._get(peer, min(POLL_S, remaining))
            except queue.Empty:
                if others:
                    raise self.failed[others[0]]
                continue
            if kind == KIND_DATA:
                return stamp, seq, payload
            if kind == KIND_ABORT:
                err = PeerAborted(f"party {self.party_id}: party {peer} aborted: "
                                  f"{bytes(payload).decode(errors='replace')}", peer)
            else:
                err = PeerLost(f"party {self.party_id}: party {peer} closed the connection "
                               f"while this party expected a message (op {self.ledger.current_op})",
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


# ---------------------------------------------------------------------------
def _recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], min(n - got, 1 << 22))
        if k == 0:
            raise ConnectionError("connection closed")
        got += k
    return buf


def _tune(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


def make_listener(host="127.0.0.1", port=0, backlog=16):
    """A listening socket (port 0: any free port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


class TcpNetwork(Network):
    """TCP transport: party i connects to every j < i and accepts every j > i.
    A reader thread per peer drains its socket into a queue, so simultaneous
    large sends never deadlock. Optional TLS (`server_ctx`, `client_ctx`)."""

    def __init__(self, party_id, n_parties, ledger, addresses, listener=None,
                 timeout=DEFAULT_TIMEOUT_S, connect_timeout=30.0,
                 server_ctx: ssl.SSLContext = None, client_ctx: ssl.SSLContext = None,
                 peer_identity=None):
        super().__init__(party_id, n_parties, ledger, timeout)
        self.addresses = addresses
        self.socks = {}
        self.inbox = {p: queue.SimpleQueue() for p in self.peers()}
        self._send_locks = {p: threading.Lock() for p in self.peers()}
        self._readers = []
        self._closing = False
        self._connect_all(listener, connect_timeout, server_ctx, client_ctx, peer_identity)
        for peer, sock in self.socks.items():
            t = threading.Thread(target=self._reader, args=(peer, sock), daemon=True,
                                 name=f"party{party_id}-reader{peer}")
            t.start()
            self._readers.append(t)

    # ---- set-up ---------------------------------------------------------------
    def _connect_all(self, listener, connect_timeout, server_ctx, client_ctx, peer_identity):
        me = self.party_id
        own_listener = False
        if listener is None and any(p > me for p in self.peers()):
            host, port = self.addresses[me]
            listener = make_listener("0.0.0.0" if host not in ("127.0.0.1", "localhost") else host, port)
            own_listener = True
        deadline = time.monotonic() + connect_timeout
        try:
            for peer in range(me):
                self.socks[peer] = self._connect(peer, deadline, client_ctx, peer_identity)
            waiting = set(range(me + 1, self.n_parties))
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    missing = ", ".join(f"party {p} (expected from its address "
                                        f"{self.addresses[p][0]})" for p in sorted(waiting))
                    raise Unreachable(
                        f"party {me}: {missing} did not connect to "
                        f"{self.addresses[me][0]}:{self.addresses[me][1]} within "
                        f"{connect_timeout:g} s", min(waiting))
                listener.settimeout(min(remaining, 1.0))
                try:
                    sock, _ = listener.accept()
                except socket.timeout:
                    continue
                sock.settimeout(max(1.0, remaining))
                _tune(sock)
                if server_ctx is not None:
                    try:
                        sock = server_ctx.wrap_socket(sock, server_side=True)
                    except (ssl.SSLError, OSError) as exc:
                        sock.close()
                        self._tls_refused = f"party {me}: refused a TLS connection: {exc}"
                        continue
                try:
                    magic, peer = _HELLO.unpack(_recv_exact(sock, _HELLO.size))
                except (ConnectionError, OSError, struct.error):
                    sock.close()
                    continue
                if magic != _MAGIC or peer not in waiting:
                    sock.close()
                    continue
                if peer_identity is not None:
                    peer_identity(sock, peer)   # raises on a certificate for another id
                sock.settimeout(None)
                self.socks[peer] = sock
                waiting.discard(peer)
        finally:
            if own_listener:
                listener.close()

    def _connect(self, peer, deadline, client_ctx, peer_identity):
        host, port = self.addresses[peer]
        last = None
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                sock = socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic()))
                _tune(sock)
                if client_ctx is not None:
                    sock = client_ctx.wrap_socket(sock, server_hostname=f"party{peer}")
                    if peer_identity is not None:
                        peer_identity(sock, peer)
                sock.sendall(_HELLO.pack(_MAGIC, self.party_id))
                sock.settimeout(None)
                return sock
            except ssl.SSLError:
                raise
            except OSError as exc:
                last = exc
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)
        raise Unreachable(f"party {self.party_id}: could not reach party {peer} at {host}:{port} "
                          f"(last error: {last})", peer)

    # ---- data path --------------------------------------------------------------
    def _reader(self, peer, sock):
        box = self.inbox[peer]
        try:
            while True:
                kind, stamp, seq, length = HEADER.unpack(_recv_exact(sock, HEADER.size))
                payload = _recv_exact(sock, length) if length else b""
                box.put((kind, stamp, seq, payload))
                if kind in (KIND_CLOSE, KIND_ABORT):
                    return
        except (ConnectionError, OSError, ValueError) as exc:
            if not self._closing:
                box.put((0, 0, 0, str(exc).encode()))

    def _transmit(self, peer, kind, stamp, seq, view):
        sock = self.socks.get(peer)
        if sock is None:
            raise PeerLost(f"party {self.party_id}: no connection to party {peer}", peer)
        header = HEADER.pack(kind, stamp, seq, view.nbytes)
        with self._send_locks[peer]:
            try:
                if view.nbytes <= 65536:
                    sock.sendall(header + bytes(view))
                else:
                    sock.sendall(header)
                    sock.sendall(view)
            except OSError as exc:
                raise PeerLost(f"party {self.party_id}: sending to party {peer} failed: {exc}",
                               peer) from exc

    def _get(self, peer, timeout):
        return self.inbox[peer].get(timeout=timeout)

    def _shutdown(self, wait):
        self._closing = True
        for sock in self.socks.values():
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        # Drain until every peer has said CLOSE (or hung up): closing a socket
        # with unread data would reset the connection and could destroy data
        # the peer has not read yet.
        end = time.monotonic() + wait
        for t in self._readers:
            t.join(timeout=max(0.0, end - time.monotonic()))
        for sock in self.socks.values():
            try:
                sock.close()
            except OSError:
                pass
