"""The TCP transport (`TcpNetwork`, re-exported by mpcore.channels): party
processes on one host or many, plain TCP or mutual TLS. Imports errors,
channels (the Network base, frames), tcp_setup (connection set-up and TLS).

Set-up: mpcore.tcp_setup (party i connects to every j < i and accepts every
j > i, with a hello / answer handshake and clear refusals).

Data path: no threads. Once connected, every socket is non-blocking and the
party's own thread does all I/O. Receiving (`_get`) waits in select() on
ALL peers' sockets and drains whatever is readable into per-peer frame
queues (a frame's payload is read straight into its own buffer), so a frame
is parsed without a thread hand-off. Sending writes what the socket takes
and, while the socket is full, keeps draining the readable sockets into
their queues: two parties sending each other large messages at the same
time never deadlock (each keeps reading while it waits to write), which is
what the former reader threads guaranteed. A connection that ends before
CLOSE, or fails, queues a "lost" marker (kind 0 with the reason), handled
by Network._wait exactly as before; after CLOSE or ABORT a peer's socket is
not read again. Sends may also come from other threads (mpcore.netsim's
delivery threads): a lock per link keeps frames (and TLS records) in order,
and one lock guards the receivers' parse state.
TLS runs over memory BIOs (`_TlsConn`): the socket stays a plain
non-blocking socket; received ciphertext is fed to the SSL object and
decrypted plaintext read from it; a send encrypts the whole frame (records
in order, any pending alert first) and writes the ciphertext like plain
data.
"""
import collections
import select
import socket
import ssl
import threading
import time

from .channels import HEADER, KIND_ABORT, KIND_CLOSE, DEFAULT_TIMEOUT_S, Network, Empty
from .errors import PeerLost
from .tcp_setup import TcpSetup, _TlsConn, make_listener  # noqa: F401  (make_listener re-exported)

_SCRATCH = 1 << 18          # bytes read per recv when no large payload is pending
_LOST = 0                   # kind of the marker queued when a connection is lost


class TcpNetwork(TcpSetup, Network):
    """TCP transport: party i connects to every j < i and accepts every j > i.
    All I/O in the party's own thread (module docstring). TLS (`server_ctx`,
    `client_ctx`, `peer_identity(sock, peer)` raising on a certificate for
    another party) over `_TlsConn`.
    Connections refused at start-up are logged and listed in `refusals`."""

    def __init__(self, party_id, n_parties, ledger, addresses, listener=None,
                 timeout=DEFAULT_TIMEOUT_S, connect_timeout=30.0,
                 server_ctx: ssl.SSLContext = None, client_ctx: ssl.SSLContext = None,
                 peer_identity=None):
        super().__init__(party_id, n_parties, ledger, timeout)
        self.addresses = addresses
        self.socks = {}
        self.refusals = []      # (error class, message) of connections refused at start-up
        self.tls = server_ctx is not None or client_ctx is not None
        self._connect_all(listener, connect_timeout, server_ctx, client_ctx, peer_identity)
        self._rx = {}           # fileno -> _Receiver
        self._rx_lock = threading.Lock()                     # receivers' parse state
        self._tx_locks = {p: threading.Lock() for p in self.socks}   # one sender per link
        for peer, sock in self.socks.items():
            raw = getattr(sock, "raw", sock)
            raw.setblocking(False)
            self._rx[raw.fileno()] = _Receiver(peer, sock)
        self._by_peer = {r.peer: r for r in self._rx.values()}

    # ---- data path --------------------------------------------------------------
    def _pump(self, timeout, want_write=None):
        """Wait up to `timeout` for readable sockets (and `want_write`'s socket
        to become writable); drain every readable one. True if want_write's
        socket is writable."""
        live = [fd for fd, r in self._rx.items() if not r.done]
        wfd = [] if want_write is None else [want_write]
        try:
            readable, writable, _ = select.select(live, wfd, [], max(0.0, timeout))
        except (OSError, ValueError) as exc:          # a socket closed under us
            for fd in live:
                self._rx[fd].fail(f"select failed: {exc}")
            return False
        if readable:
            with self._rx_lock:
                for fd in readable:
                    self._rx[fd].drain()
        return bool(writable)

    def _transmit(self, peer, kind, stamp, seq, view):
        sock = self.socks.get(peer)
        if sock is None:
            raise PeerLost(f"party {self.party_id}: no connection to party {peer}", peer)
        header = HEADER.pack(kind, stamp, seq, view.nbytes)
        if view.nbytes <= 65536 and not isinstance(sock, _TlsConn):
            data = header + bytes(view)     # fast path: one small frame, usually one send
            with self._tx_locks[peer]:
                try:
                    sent = sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    raise PeerLost(f"party {self.party_id}: sending to party {peer} failed: "
                                   f"{exc}", peer) from exc
                if sent == len(data):
                    return
                try:
                    self._send_all(sock, sock.fileno() if sock.fileno() >= 0 else None,
                                   memoryview(data)[sent:], peer,
                                   time.monotonic() + self.timeout)
                except OSError as exc:
                    raise PeerLost(f"party {self.party_id}: sending to party {peer} failed: "
                                   f"{exc}", peer) from exc
            return
        raw = getattr(sock, "raw", sock)
        fd = raw.fileno() if raw.fileno() >= 0 else None
        deadline = time.monotonic() + self.timeout
        try:
            with self._tx_locks[peer]:      # TLS records are made and sent in order
                if isinstance(sock, _TlsConn):
                    chunks = [sock.encrypt(header + bytes(view)) if view.nbytes <= 65536
                              else sock.encrypt(header, view)]
                elif view.nbytes <= 65536:
                    chunks = [header + bytes(view)]
                else:
                    chunks = [header, view]
                for chunk in chunks:
                    self._send_all(raw, fd, memoryview(chunk).cast("B"), peer, deadline)
        except OSError as exc:
            raise PeerLost(f"party {self.party_id}: sending to party {peer} failed: {exc}",
                           peer) from exc

    def _send_all(self, raw, fd, mv, peer, deadline):
        """Write all of mv on the non-blocking socket, draining every readable
        socket while this one is full (no deadlock with a peer that sends too)."""
        off = 0
        while off < len(mv):
            try:
                off += raw.send(mv[off:off + (1 << 22)])
                continue
            except (BlockingIOError, InterruptedError):
                pass
            if fd is None:
                raise OSError("socket closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OSError(f"party {peer} did not read for {self.timeout:g} s")
            self._pump(min(remaining, 1.0), fd)

    def _poll(self, peer):
        rx = self._by_peer.get(peer)
        if rx is None:
            return None
        if not rx.frames and not rx.done:
            with self._rx_lock:
                rx.drain()              # non-blocking: whatever has arrived
        return rx.frames.popleft() if rx.frames else None

    def _get(self, peer, timeout):
        rx = self._by_peer.get(peer)
        if rx is None:
            raise PeerLost(f"party {self.party_id}: no connection to party {peer}", peer)
        frames = rx.frames
        if frames:
            return frames.popleft()
        end = time.monotonic() + timeout
        while True:
            self._pump(end - time.monotonic())
            if frames:
                return frames.popleft()
            if time.monotonic() >= end:
                raise Empty

    def _shutdown(self, wait):
        for sock in self.socks.values():
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        # Drain until every peer has said CLOSE (or hung up): closing a socket
        # with unread data would reset the connection and could destroy data
        # the peer has not read yet.
        end = time.monotonic() + wait
        while any(not r.done for r in self._rx.values()) and time.monotonic() < end:
            self._pump(min(0.2, end - time.monotonic()))
        for sock in self.socks.values():
            try:
                sock.close()
            except OSError:
                pass


class _Receiver:
    """Frames arriving from one peer: reads whatever is available (non-
    blocking) and queues complete frames (kind, stamp, seq, payload). A
    large payload is read straight into its own buffer."""
    __slots__ = ("peer", "conn", "frames", "done", "_buf", "_have", "_hdr", "_pay", "_got",
                 "_plain")

    def __init__(self, peer, conn):
        self.peer, self.conn = peer, conn
        self._plain = not isinstance(conn, _TlsConn)   # a short read means: drained
        self.frames = collections.deque()
        self.done = False                 # CLOSE / ABORT seen, or the connection is gone
        self._buf = bytearray(_SCRATCH)   # small reads: several frames per recv
        self._have = 0
        self._hdr = None                  # header of the frame whose payload is pending
        self._pay = None
        self._got = 0

    def fail(self, reason):
        if not self.done:
            self.done = True
            self.frames.append((_LOST, 0, 0, reason.encode()))

    def drain(self):
        try:
            while not self.done:
                if self._pay is not None:              # straight into the payload buffer
                    view = memoryview(self._pay)[self._got:]
                    k = self.conn.recv_into(view, len(view))
                    if k == 0:
                        return self.fail("connection closed")
                    self._got += k
                    if self._got == len(self._pay):
                        self._emit(self._hdr, self._pay)
                        self._pay = None
                    continue
                want = len(self._buf) - self._have
                k = self.conn.recv_into(memoryview(self._buf)[self._have:], want)
                if k == 0:
                    return self.fail("connection closed")
                self._have += k
                self._parse()
                if self._plain and k < want and self.frames:
                    return          # the socket had no more: skip the EAGAIN read
                    # (select reports anything that arrives later; a TLS
                    # connection may hold decrypted data select cannot see,
                    # so it is always read until it would block)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError):
            return
        except (ConnectionError, OSError, ValueError) as exc:
            return self.fail(str(exc) or type(exc).__name__)

    def _parse(self):
        buf, pos, have = self._buf, 0, self._have
        while have - pos >= HEADER.size and not self.done:
            kind, stamp, seq, length = HEADER.unpack_from(buf, pos)
            start = pos + HEADER.size
            if have - start >= length:
                self._emit((kind, stamp, seq), bytes(buf[start:start + length]))
                pos = start + length
                continue
            if length > len(buf) // 2:                 # large: a buffer of its own
                self._hdr = (kind, stamp, seq)
                self._pay = bytearray(length)
                self._got = have - start
                self._pay[:self._got] = buf[start:have]
                pos = have
            break
        rest = have - pos
        if rest and pos:
            buf[:rest] = buf[pos:have]
        self._have = rest

    def _emit(self, hdr, payload):
        kind, stamp, seq = hdr
        self.frames.append((kind, stamp, seq, payload))
        if kind in (KIND_CLOSE, KIND_ABORT):
            self.done = True
