"""Channels between parties: in-memory (threads) and TCP (processes, hosts).

Imports errors, ring (and tls, lazily, for TLS set-up). Both transports
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

TCP set-up: party i connects to every j < i and accepts every j > i. The
connecting side sends a hello (magic, its id) and waits for the acceptor's
answer (accepted, or refused with a reason), so a refused party learns why.
With TLS (`server_ctx`, `client_ctx`, `peer_identity(conn, peer)`; see
tls.py) both sides present certificates (`conn.getpeercert()` gives the
peer's); refusals are logged by the refusing side and raised as
tls.TlsError subclasses on the refused side.

Threads: each connection has one reader thread (recv into the peer's inbox)
while the party's own thread sends; a kernel socket allows that. An OpenSSL
SSL object must not be used by two threads at once, so TLS runs over memory
BIOs (`_TlsConn`): the socket stays a plain socket, used exactly like a TCP
one, and the SSL object is touched only under a per-connection lock that is
held for in-memory encryption or decryption, never across a blocking socket
call, so neither side can block the other. A send encrypts in chunks and
writes each to the socket while holding the connection's send lock, so TLS
records reach the wire in the order they were made.
"""
import logging
import queue
import socket
import ssl
import struct
import threading
import time

import numpy as np

from .errors import PartyError, PeerAborted, PeerLost, PeerTimeout, ProtocolDesync, Unreachable
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

log = logging.getLogger(__name__)


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


class _Refused(Exception):
    """An accepted connection that was turned away at start-up."""

    def __init__(self, cls, text, by_us=True):
        super().__init__(text)
        self.cls, self.text, self.by_us = cls, text, by_us


def _close_gently(sock, linger=0.5):
    """Close after a failed handshake without a TCP reset, so that what we
    sent last (a TLS alert, a refusal) reaches the other side."""
    raw = getattr(sock, "raw", sock)
    try:
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(linger)
        end = time.monotonic() + linger
        while time.monotonic() < end and raw.recv(65536):
            pass
    except OSError:
        pass
    try:
        raw.close()
    except OSError:
        pass


def _read_answer(sock):
    status, length = _ANSWER.unpack(_recv_exact(sock, _ANSWER.size))
    reason = bytes(_recv_exact(sock, length)).decode(errors="replace") if length else ""
    return status, reason


class TcpNetwork(Network):
    """TCP transport: party i connects to every j < i and accepts every j > i.
    Plain TCP: a reader thread per peer drains its socket into a queue, so
    simultaneous large sends never deadlock. TLS (`server_ctx`, `client_ctx`,
    `peer_identity(sock, peer)` raising on a certificate for another party):
    the same threads over `_TlsConn` (module docstring).
    Connections refused at start-up are logged and listed in `refusals`."""

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
        self.refusals = []      # (error class, message) of connections refused at start-up
        self.tls = server_ctx is not None or client_ctx is not None
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
            bind = "0.0.0.0" if host not in ("127.0.0.1", "localhost") else host
            try:
                listener = make_listener(bind, port)
            except OSError as exc:
                raise Unreachable(f"party {me}: cannot listen on {bind}:{port} ({exc}); is "
                                  f"another program (or another party) using the port?", me) from exc
            own_listener = True
        start = time.monotonic()
        deadline = start + connect_timeout
        try:
            for peer in range(me):
                self.socks[peer] = self._connect(peer, deadline, connect_timeout, client_ctx,
                                                 peer_identity)
            waiting = set(range(me + 1, self.n_parties))
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._missing(waiting, connect_timeout)
                listener.settimeout(min(remaining, 1.0))
                try:
                    raw, addr = listener.accept()
                except socket.timeout:
                    continue
                try:
                    peer, sock = self._accept(raw, min(max(remaining, 1.0), HANDSHAKE_S),
                                              waiting, server_ctx, peer_identity)
                except _Refused as r:
                    self._note_refusal(addr, r)
                    continue
                self.socks[peer] = sock
                waiting.discard(peer)
        except BaseException:
            for sock in self.socks.values():
                try:
                    sock.close()
                except OSError:
                    pass
            raise
        finally:
            if own_listener:
                listener.close()

    def _missing(self, waiting, connect_timeout):
        me = self.party_id
        missing = ", ".join(f"party {p} (expected from its address {self.addresses[p][0]})"
                            for p in sorted(waiting))
        text = (f"party {me}: {missing} did not connect to "
                f"{self.addresses[me][0]}:{self.addresses[me][1]} within {connect_timeout:g} s")
        if not self.refusals:
            return Unreachable(text + " (not started, a wrong --id or address, or a firewall)",
                               min(waiting))
        cls = self.refusals[0][0]
        if not (isinstance(cls, type) and issubclass(cls, PartyError)):
            cls = Unreachable
        return cls(text + "; meanwhile " + "; ".join(m for _, m in self.refusals), min(waiting))

    def _note_refusal(self, addr, r):
        me = self.party_id
        if r.by_us:
            msg = f"party {me} refused a connection from {addr[0]}:{addr[1]}: {r.text}"
        else:
            msg = f"party {me}: a connection from {addr[0]}:{addr[1]} failed: {r.text}"
        log.warning("%s", msg)
        self.refusals.append((r.cls, msg))

    def _accept(self, raw, handshake_s, waiting, server_ctx, peer_identity):
        """Handshake of an accepted connection: -> (peer, socket) or raises _Refused."""
        from . import tls
        me = self.party_id
        raw.settimeout(handshake_s)
        _tune(raw)
        sock = raw
        if server_ctx is not None:
            sock = _TlsConn(raw, server_ctx, server_side=True)
            try:
                sock.handshake()
            except (ssl.SSLError, OSError) as exc:
                cls, text, by_us = tls.describe_refusal(exc)
                _close_gently(sock)
                raise _Refused(cls, text, by_us) from None
        try:
            hello = _recv_exact(sock, _HELLO.size)
        except (OSError, ConnectionError) as exc:
            if isinstance(exc, ssl.SSLError):
                cls, text = tls.describe_ssl_error(exc, "the connecting side")
            else:
                cls, text = Unreachable, (f"the connecting side did not say which party it is "
                                          f"({exc or type(exc).__name__}); it may have refused "
                                          f"this party's certificate")
            _close_gently(sock)
            raise _Refused(cls, text, False) from None
        magic, peer = _HELLO.unpack(hello)
        if magic != _MAGIC:
            if server_ctx is None and hello[:1] == b"\x16":
                cls, text = tls.NotTls, ("the connecting side speaks TLS, but this party runs "
                                         "without TLS (--insecure on one side only?)")
            else:
                cls, text = Unreachable, "not a safenet party of this version (unexpected hello)"
            self._answer(sock, _REFUSED, f"party {me} refused the connection: {text}")
            _close_gently(sock)
            raise _Refused(cls, text)
        if peer not in waiting:
            why = (f"party {peer} is already connected" if me < peer < self.n_parties
                   else f"party {peer} is not a party that connects to party {me} "
                        f"(parties are 0..{self.n_parties - 1}; party i connects to parties below i)")
            self._answer(sock, _REFUSED, f"party {me} refused the connection: {why}")
            _close_gently(sock)
            raise _Refused(Unreachable, f"it claims to be party {peer}, but {why}")
        if peer_identity is not None:
            try:
                peer_identity(sock, peer)
            except Exception as exc:  # noqa: BLE001 - any objection refuses the peer
                cls = type(exc) if isinstance(exc, PartyError) else tls.WrongPartyCertificate
                self._answer(sock, _REFUSED_IDENTITY, f"party {me} refused this party: its {exc}")
                _close_gently(sock)
                raise _Refused(cls, f"it claims to be party {peer}, but its {exc}") from None
        try:
            self._answer(sock, _ACCEPTED, "")
        except OSError as exc:
            _close_gently(sock)
            raise _Refused(Unreachable, f"party {peer} went away during the handshake ({exc})",
                           False) from None
        sock.settimeout(None)
        return peer, sock

    @staticmethod
    def _answer(sock, status, reason):
        data = reason.encode()[:4000]
        try:
            sock.sendall(_ANSWER.pack(status, len(data)) + data)
        except OSError:
            if status == _ACCEPTED:
                raise

    def _connect(self, peer, deadline, connect_timeout, client_ctx, peer_identity):
        host, port = self.addresses[peer]
        last = None
        delay = 0.05
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                raw = socket.create_connection((host, port), timeout=max(0.1, min(remaining, 5.0)))
            except OSError as exc:
                last = exc
                time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)
                continue
            return self._client_handshake(raw, peer, host, port, deadline, client_ctx,
                                          peer_identity)
        raise Unreachable(f"party {self.party_id}: could not reach party {peer} at {host}:{port} "
                          f"within {connect_timeout:g} s (last error: {last})", peer)

    def _client_handshake(self, raw, peer, host, port, deadline, client_ctx, peer_identity):
        from . import tls
        me = self.party_id
        tag = (f"party {me}: {'TLS ' if client_ctx is not None else ''}handshake with party "
               f"{peer} at {host}:{port} failed")
        # the acceptor may still be connecting to parties below it: wait up to the deadline
        raw.settimeout(max(0.5, deadline - time.monotonic()))
        _tune(raw)
        sock = raw
        try:
            if client_ctx is not None:
                sock = _TlsConn(raw, client_ctx, server_side=False,
                                server_hostname=tls.party_name(peer))
                sock.handshake()
                if peer_identity is not None:
                    try:
                        peer_identity(sock, peer)
                    except Exception as exc:  # noqa: BLE001
                        cls = type(exc) if isinstance(exc, PartyError) else tls.WrongPartyCertificate
                        raise cls(f"{tag}: the {exc} (a wrong certificate on party {peer}, or a "
                                  f"wrong address for party {peer} in the configuration)",
                                  peer) from None
            sock.sendall(_HELLO.pack(_MAGIC, me))
            status, reason = _read_answer(sock)
        except PartyError:
            _close_gently(sock, 0.1)
            raise
        except socket.timeout:
            sock.close()
            raise Unreachable(f"{tag}: party {peer} accepted the connection but did not finish "
                              f"the handshake in time", peer) from None
        except (OSError, ConnectionError, EOFError, struct.error) as exc:
            sock.close()
            if client_ctx is None and not isinstance(exc, ssl.SSLError):
                raise Unreachable(f"{tag}: party {peer} closed the connection without answering "
                                  f"({exc}); does it expect TLS? this party runs without TLS",
                                  peer) from None
            cls, text = tls.describe_ssl_error(exc, f"party {peer}")
            raise cls(f"{tag}: {text}", peer) from None
        if status != _ACCEPTED:
            _close_gently(sock, 0.1)
            cls = tls.WrongPartyCertificate if status == _REFUSED_IDENTITY else Unreachable
            raise cls(f"{tag}: {reason}", peer)
        sock.settimeout(None)
        return sock

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


class _TlsConn:
    """A TLS connection over a plain socket, through memory BIOs, with the
    socket methods the transport uses (sendall, recv_into, shutdown, close,
    settimeout, getpeercert). Safe with one reader thread and any number of
    sending threads (module docstring)."""

    CHUNK = 1 << 20            # plaintext bytes encrypted per socket write
    READ = 1 << 20             # ciphertext bytes per socket read

    def __init__(self, raw, ctx, server_side, server_hostname=None):
        self.raw = raw
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._ssl = ctx.wrap_bio(self._in, self._out, server_side=server_side,
                                 server_hostname=server_hostname)
        self._crypto = threading.Lock()     # guards the SSL object and both BIOs
        self._send = threading.Lock()       # one writer on the socket at a time
        self._wire = []                     # ciphertext made while reading (alerts), in order
        self._rbuf = bytearray(self.READ)

    # ---- handshake (before any thread shares the connection) -----------------------
    def handshake(self):
        """Run the TLS handshake on the (blocking, timed) socket. On failure
        the alert OpenSSL produced is sent before the exception propagates."""
        while True:
            try:
                self._ssl.do_handshake()
                self._flush_out()
                return
            except ssl.SSLWantReadError:
                self._flush_out()
                k = self.raw.recv_into(self._rbuf, 65536)
                if k:
                    self._in.write(memoryview(self._rbuf)[:k])
                else:
                    self._in.write_eof()
            except ssl.SSLError:
                try:
                    self._flush_out()
                except OSError:
                    pass
                raise

    def _flush_out(self):
        data = self._out.read()
        if data:
            self.raw.sendall(data)

    def getpeercert(self, binary_form=False):
        return self._ssl.getpeercert(binary_form)

    # ---- data path ----------------------------------------------------------------
    def sendall(self, data):
        view = memoryview(data).cast("B")
        with self._send:
            for off in range(0, max(len(view), 1), self.CHUNK):
                with self._crypto:
                    if len(view):
                        self._ssl.write(view[off:off + self.CHUNK])
                    out = self._out.read()
                    if self._wire:
                        out = b"".join(self._wire) + out
                        self._wire.clear()
                self.raw.sendall(out)

    def recv_into(self, buffer, nbytes=0):
        """Like socket.recv_into: > 0 bytes, or 0 at the end of the stream."""
        nbytes = nbytes or len(buffer)
        while True:
            with self._crypto:
                try:
                    return self._ssl.read(nbytes, buffer)
                except ssl.SSLWantReadError:
                    pass
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return 0
                finally:
                    if self._out.pending:     # e.g. an alert: sent before the next record
                        self._wire.append(self._out.read())
            k = self.raw.recv_into(self._rbuf)
            with self._crypto:
                if k:
                    self._in.write(memoryview(self._rbuf)[:k])
                else:
                    self._in.write_eof()

    # ---- socket housekeeping ---------------------------------------------------------
    def settimeout(self, t):
        self.raw.settimeout(t)

    def shutdown(self, how):
        self.raw.shutdown(how)

    def close(self):
        self.raw.close()
