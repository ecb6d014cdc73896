"""Connection set-up of the TCP transport (mpcore.tcp): listening,
connecting, the hello / answer handshake with clear refusals, TLS over
memory BIOs (`_TlsConn`). Imports errors, channels (frame constants), and
tls lazily. Party i connects to every j < i and accepts every j > i. The
connecting side sends a hello (magic, its id) and waits for the acceptor's
answer (accepted, or refused with a reason), so a refused party learns why.
With TLS (`server_ctx`, `client_ctx`, `peer_identity(conn, peer)`; see
tls.py) both sides present certificates (`conn.getpeercert()` gives the
peer's); refusals are logged by the refusing side and raised as
tls.TlsError subclasses on the refused side.
"""
import logging
import socket
import ssl
import struct
import threading
import time

from .channels import (HANDSHAKE_S, _ACCEPTED, _ANSWER, _HELLO, _MAGIC, _REFUSED,
                       _REFUSED_IDENTITY)
from .errors import PartyError, Unreachable

log = logging.getLogger("mpcore.channels")


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


SOCKET_BUFFER = 4 << 20     # bytes: a round's message fits, so a sender rarely waits


def _tune(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass


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


class TcpSetup:
    """The set-up half of TcpNetwork (a mixin: uses party_id, n_parties,
    addresses, socks and refusals of the network)."""

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


class _TlsConn:
    """A TLS connection over a plain socket, through memory BIOs, with the
    socket methods the transport uses (sendall for the handshake, encrypt,
    recv_into, shutdown, close, settimeout, getpeercert). After the
    handshake the raw socket is non-blocking: recv_into raises
    BlockingIOError when no plaintext can be produced yet."""

    CHUNK = 1 << 20            # plaintext bytes per SSL write
    READ = 1 << 20             # ciphertext bytes per socket read

    def __init__(self, raw, ctx, server_side, server_hostname=None):
        self.raw = raw
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._ssl = ctx.wrap_bio(self._in, self._out, server_side=server_side,
                                 server_hostname=server_hostname)
        self._wire = []                     # ciphertext made while reading (alerts), in order
        self._rbuf = bytearray(self.READ)
        self._lock = threading.Lock()       # the SSL object: one thread at a time

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
        """Blocking send (set-up only: the hello and the answers)."""
        self.raw.sendall(self.encrypt(data))

    def encrypt(self, *parts):
        """Ciphertext of the concatenated plaintext parts (any pending alert
        first), in records of at most CHUNK bytes."""
        with self._lock:
            out = list(self._wire)
            self._wire.clear()
            for data in parts:
                view = memoryview(data).cast("B")
                for off in range(0, len(view), self.CHUNK):
                    self._ssl.write(view[off:off + self.CHUNK])
                    out.append(self._out.read())
            if self._out.pending:
                out.append(self._out.read())
        return b"".join(out)

    def recv_into(self, buffer, nbytes=0):
        """Like socket.recv_into on a non-blocking socket: > 0 bytes, 0 at the
        end of the stream, or BlockingIOError when nothing can be read yet."""
        nbytes = nbytes or len(buffer)
        while True:
            with self._lock:
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
            with self._lock:
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
