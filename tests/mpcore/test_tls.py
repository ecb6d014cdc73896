"""TLS between parties (mpcore.tls, the TLS path of mpcore.channels): the
certificates `safenet certs` makes, mutual authentication, refusals with
readable errors on both sides, and large simultaneous transfers through the
reader-thread + sender design. Parties are threads here; test_hosts.py runs
them as processes."""
import datetime as dt
import logging
import os
import socket
import ssl
import stat
import threading
import time

import numpy as np
import pytest

from mpcore import tls
from mpcore.channels import TcpNetwork, make_listener
from mpcore.errors import PartyError, PeerLost, Unreachable
from mpcore.ledger import Ledger


def _now():
    return dt.datetime.now(dt.timezone.utc)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.make_certs(tmp_path_factory.mktemp("certs"), 3, days=7)


# ---- certificates --------------------------------------------------------------
def test_certs_command_writes_ca_and_party_files(tmp_path, capsys):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from bench.cli import main
    assert main(["certs", "--out", str(tmp_path / "c"), "--parties", "3", "--days", "7"]) == 0
    out = tmp_path / "c"
    ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.value.ca and bc.critical
    for i in range(3):
        key_path = out / f"party{i}.key"
        assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
        cert = x509.load_pem_x509_certificate((out / f"party{i}.pem").read_bytes())
        assert tls.certificate_names(cert) == {f"party{i}"}
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [f"party{i}"]
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert cert.public_key().curve.name == "secp256r1"
        days = (cert.not_valid_after_utc - _now()).total_seconds() / 86400
        assert 6.99 < days <= 7.0
        cert.verify_directly_issued_by(ca)
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # a fresh CA each call
    main(["certs", "--out", str(tmp_path / "d"), "--parties", "1"])
    assert (tmp_path / "d" / "ca.pem").read_bytes() != (out / "ca.pem").read_bytes()


def test_own_certificate_problems_are_found(tmp_path, certs):
    assert tls.check_own_certificate(1, certs.cert_paths[1], certs.ca_path) == []
    # expired, signed by the right CA
    k, c = tls.issue_party_certificate(certs.ca_key, certs.ca_cert, 1,
                                       not_before=_now() - dt.timedelta(days=9),
                                       not_after=_now() - dt.timedelta(days=2))
    tls.write_cert(tmp_path / "old.pem", c)
    (problem,) = tls.check_own_certificate(1, tmp_path / "old.pem", certs.ca_path)
    assert "expired on" in problem and "old.pem" in problem
    # another CA
    other = tls.make_certs(tmp_path / "other", 2)
    (problem,) = tls.check_own_certificate(1, other.cert_paths[1], certs.ca_path)
    assert "not signed by the configured CA" in problem
    # another party's
    (problem,) = tls.check_own_certificate(2, certs.cert_paths[1], certs.ca_path)
    assert "is for party1, not party2" in problem


def test_key_that_does_not_match_is_a_clear_error(certs):
    with pytest.raises(tls.CertificateError, match="does not belong to certificate"):
        tls.tls_setup(0, certs.ca_path, certs.cert_paths[0], certs.key_paths[1])
    with pytest.raises(tls.CertificateError, match="not found"):
        tls.tls_setup(0, certs.ca_path, certs.cert_paths[0], "/nonexistent/party0.key")


def test_contexts_require_tls13_and_client_certificates(certs):
    s = tls.tls_setup(0, certs.ca_path, certs.cert_paths[0], certs.key_paths[0])
    for ctx in (s.server_ctx, s.client_ctx):
        assert ctx.verify_mode == ssl.CERT_REQUIRED
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3


# ---- networks of threads -----------------------------------------------------------
def _start(n, setups, program, connect_timeout=10.0, timeout=30.0):
    """Run program(net) on n TcpNetworks in threads; setups[i]: TlsSetup or None.
    Returns (results, errors, networks)."""
    listeners = [make_listener() for _ in range(n)]
    addrs = [l.getsockname() for l in listeners]
    results, errors, nets = [None] * n, [None] * n, [None] * n

    def party(i):
        s = setups[i]
        kw = {} if s is None else dict(server_ctx=s.server_ctx, client_ctx=s.client_ctx,
                                       peer_identity=s.peer_identity)
        try:
            net = TcpNetwork(i, n, Ledger(i, n), addrs, listener=listeners[i], timeout=timeout,
                             connect_timeout=connect_timeout, **kw)
            nets[i] = net
            results[i] = program(net)
            net.close()
        except Exception as exc:  # noqa: BLE001
            errors[i] = exc
            if nets[i] is not None:
                nets[i].abort(str(exc))

    threads = [threading.Thread(target=party, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=connect_timeout + timeout + 30)
    for l in listeners:
        l.close()
    assert not any(t.is_alive() for t in threads), "a party hangs"
    return results, errors, nets


def _setups(certs, n=3, swap=None):
    swap = swap or {}
    out = []
    for i in range(n):
        cert, key = swap.get(i, (certs.cert_paths[i], certs.key_paths[i]))
        out.append(tls.tls_setup(i, certs.ca_path, cert, key))
    return out


def test_large_simultaneous_transfers_over_tls(certs):
    """2x10^6 uint64 each way between every pair at the same time, twice, then
    many small messages: every byte arrives, in order."""
    n_el = 2_000_000

    def program(net):
        me = net.party_id
        got = []
        for r in range(2):
            with net.ledger.op("big"):
                sends = {p: np.arange(n_el, dtype=np.uint64) * np.uint64(me + 1) + np.uint64(r * 7 + p)
                         for p in net.peers()}
                recv = net.exchange(sends, {p: n_el for p in net.peers()})
            for p, a in recv.items():
                expect = np.arange(n_el, dtype=np.uint64) * np.uint64(p + 1) + np.uint64(r * 7 + me)
                got.append(bool(np.array_equal(a, expect)))
        with net.ledger.op("small"):
            for k in range(200):
                for p in net.peers():
                    net.send(p, np.array([k, me], dtype=np.uint64))
            for k in range(200):
                for p in net.peers():
                    got.append(net.recv(p, 2).tolist() == [k, p])
        return all(got), net.ledger.total_bytes_sent, net.ledger.total_bytes_recv

    results, errors, _ = _start(3, _setups(certs), program)
    assert errors == [None, None, None]
    big = 2 * 2 * 8 * n_el + 2 * 200 * 16
    assert results == [(True, big, big)] * 3


def test_peer_lost_under_tls_is_detected(certs):
    def program(net):
        if net.party_id == 2:
            for p in (0, 1):           # as if the process died: FIN without CLOSE
                net.socks[p].raw.shutdown(socket.SHUT_RDWR)
            return None
        with net.ledger.op("wait"):
            return net.recv(2, 1)

    t0 = time.monotonic()
    _, errors, _ = _start(3, _setups(certs), program, timeout=20)
    assert time.monotonic() - t0 < 10
    for i in (0, 1):
        assert isinstance(errors[i], PeerLost) and "party 2" in str(errors[i])


def _refusal_case(certs, swap, caplog, connect_timeout=2.0):
    with caplog.at_level(logging.WARNING, logger="mpcore.channels"):
        _, errors, _ = _start(3, _setups(certs, swap=swap), lambda net: None,
                              connect_timeout=connect_timeout)
    return errors, caplog.text


def test_certificate_from_another_ca_is_refused_on_both_sides(tmp_path, certs, caplog):
    other = tls.make_certs(tmp_path, 3)
    errors, logged = _refusal_case(certs, {2: (other.cert_paths[2], other.key_paths[2])}, caplog)
    assert "party 0 refused a connection from 127.0.0.1:" in logged
    assert "certificate not signed by the configured CA" in logged
    assert isinstance(errors[2], tls.CertificateUntrusted)
    assert "party 2: TLS handshake with party 0 at 127.0.0.1:" in str(errors[2])
    assert "certificate verify failed" in str(errors[2])
    assert isinstance(errors[0], tls.CertificateUntrusted)
    assert "party 2" in str(errors[0]) and "not signed by the configured CA" in str(errors[0])
    assert isinstance(errors[1], Unreachable) and "party 2" in str(errors[1])


def test_expired_certificate_is_refused_on_both_sides(tmp_path, certs, caplog):
    k, c = tls.issue_party_certificate(certs.ca_key, certs.ca_cert, 2,
                                       not_before=_now() - dt.timedelta(days=9),
                                       not_after=_now() - dt.timedelta(days=1))
    tls.write_key(tmp_path / "p2.key", k)
    tls.write_cert(tmp_path / "p2.pem", c)
    errors, logged = _refusal_case(certs, {2: (tmp_path / "p2.pem", tmp_path / "p2.key")}, caplog)
    assert "party 0 refused a connection" in logged and "certificate expired" in logged
    assert isinstance(errors[2], tls.CertificateExpired)
    assert "certificate expired" in str(errors[2])
    assert isinstance(errors[0], tls.CertificateExpired)


def test_certificate_of_another_party_is_refused_on_both_sides(certs, caplog):
    errors, logged = _refusal_case(certs, {2: (certs.cert_paths[1], certs.key_paths[1])}, caplog)
    assert "it claims to be party 2, but its certificate is for party1, not party2" in logged
    assert isinstance(errors[2], tls.WrongPartyCertificate)
    assert "party 0 refused this party: its certificate is for party1" in str(errors[2])
    assert isinstance(errors[0], tls.WrongPartyCertificate)


def test_acceptor_with_a_foreign_certificate_is_refused_by_the_connecting_side(tmp_path, certs,
                                                                              caplog):
    other = tls.make_certs(tmp_path, 3)
    errors, logged = _refusal_case(certs, {0: (other.cert_paths[0], other.key_paths[0])}, caplog)
    for i in (1, 2):
        assert isinstance(errors[i], tls.CertificateUntrusted)
        assert (f"party {i}: TLS handshake with party 0 at 127.0.0.1:" in str(errors[i])
                and "party 0's certificate is not signed by the configured CA" in str(errors[i]))
    assert "does not accept this party's certificate" in logged
    assert isinstance(errors[0], PartyError)


def test_tls_against_plain_tcp_is_a_clear_error(certs, caplog):
    setups = _setups(certs, 2)
    setups[0] = None                       # party 0 runs without TLS, party 1 with
    with caplog.at_level(logging.WARNING, logger="mpcore.channels"):
        _, errors, _ = _start(2, setups, lambda net: None, connect_timeout=2.0)
    assert isinstance(errors[1], tls.TlsError)
    assert "does not speak TLS" in str(errors[1]) or "closed the connection" in str(errors[1])
    assert "this party runs without TLS" in caplog.text


def test_describe_ssl_error_words():
    e = ssl.SSLCertVerificationError(1, "x")
    e.verify_code, e.verify_message = 10, "certificate has expired"
    assert tls.describe_ssl_error(e, "party 0")[0] is tls.CertificateExpired
    e.verify_code, e.verify_message = 20, "unable to get local issuer certificate"
    cls, text = tls.describe_ssl_error(e, "party 0")
    assert cls is tls.CertificateUntrusted and "not signed by the configured CA" in text
    a = ssl.SSLError(1, "alert")
    a.reason = "TLSV1_ALERT_UNKNOWN_CA"
    cls, text = tls.describe_ssl_error(a, "party 0")
    assert cls is tls.CertificateUntrusted and "party 0 does not accept" in text
    assert issubclass(tls.TlsError, PartyError)


def test_handshake_answer_timeout_is_bounded(certs):
    """A listener that accepts but never answers: the connecting party gives
    up at its deadline with a message naming the party and address."""
    srv = make_listener()
    addr = srv.getsockname()
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except socket.timeout:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    s = tls.tls_setup(1, certs.ca_path, certs.cert_paths[1], certs.key_paths[1])
    t0 = time.monotonic()
    try:
        with pytest.raises(Unreachable, match=rf"party 1: TLS handshake with party 0 at "
                                              rf"127.0.0.1:{addr[1]} failed"):
            TcpNetwork(1, 2, Ledger(1, 2), [addr, ("127.0.0.1", 0)], connect_timeout=1.0,
                       server_ctx=s.server_ctx, client_ctx=s.client_ctx,
                       peer_identity=s.peer_identity)
    finally:
        stop.set()
        t.join()
        srv.close()
        for c in held:
            c.close()
    assert time.monotonic() - t0 < 5
