"""Certificates and TLS for multi-host runs. Imports errors (and the
`cryptography` package, lazily, for making and inspecting certificates).

Every party holds a certificate signed by the run's CA whose subject CN and
SAN DNS name are "party{i}". Connections are TLS 1.3 with certificates on
BOTH sides, verified against that CA (CERT_REQUIRED); after the handshake
the certificate must name exactly the party id the peer claims.

    make_certs(out_dir, n_parties, days=30)           # `safenet certs`
    setup = tls_setup(party_id, ca, cert, key)        # contexts + identity check
    TcpNetwork(..., server_ctx=setup.server_ctx, client_ctx=setup.client_ctx,
               peer_identity=setup.peer_identity)

ssl failures are translated into PartyError subclasses whose text says what
is wrong in words (`describe_ssl_error`): a certificate from another CA, an
expired one, one for another party, a peer that does not speak TLS.
"""
import datetime as _dt
import os
import re
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MPCError, PartyError

DEFAULT_DAYS = 30
_PARTY_NAME = re.compile(r"^party(\d+)$")


def party_name(party_id: int) -> str:
    """The identity (CN and SAN DNS name) of party `party_id`'s certificate."""
    return f"party{party_id}"


# ---- errors ---------------------------------------------------------------
class TlsError(PartyError):
    """The TLS set-up with a peer failed (on either side)."""


class CertificateRejected(TlsError):
    """A certificate was refused: this party refused a peer's, or a peer
    refused this party's."""


class CertificateUntrusted(CertificateRejected):
    """The certificate is not signed by the configured CA."""


class CertificateExpired(CertificateRejected):
    """The certificate is expired (or not yet valid)."""


class WrongPartyCertificate(CertificateRejected):
    """The certificate is valid but names another party than the one claimed."""


class NotTls(TlsError):
    """The other side does not speak TLS (e.g. it runs with --insecure)."""


class CertificateError(MPCError, ValueError):
    """This party's own certificate, key or CA file cannot be used."""


# ---- making certificates ----------------------------------------------------
def _now():
    return _dt.datetime.now(_dt.timezone.utc)


@dataclass
class CertSet:
    """What `make_certs` wrote; `ca_key`/`ca_cert` let a caller (tests) issue
    more certificates from the same CA. The CA key is never written to disk."""
    out_dir: Path
    ca_path: Path
    cert_paths: list
    key_paths: list
    ca_key: object = field(repr=False, default=None)
    ca_cert: object = field(repr=False, default=None)


def new_ca(days=DEFAULT_DAYS, name=None, not_before=None, not_after=None):
    """A fresh EC P-256 CA: (private key, certificate). basicConstraints CA:TRUE."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            name or f"safenet CA {os.urandom(4).hex()}")])
    start = not_before or _now() - _dt.timedelta(minutes=5)
    end = not_after or _now() + _dt.timedelta(days=days)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue_party_certificate(ca_key, ca_cert, party_id, days=DEFAULT_DAYS,
                            not_before=None, not_after=None, name=None):
    """An EC P-256 key and a certificate for `name` (default "party{id}": CN
    and SAN DNS name), valid `days` days from now unless explicit bounds are
    given (tests use bounds in the past to make an expired certificate)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    name = name or party_name(party_id)
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or _now() - _dt.timedelta(minutes=5)
    end = not_after or _now() + _dt.timedelta(days=days)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def write_cert(path, cert):
    from cryptography.hazmat.primitives import serialization
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def write_key(path, key):
    """PEM (PKCS#8, unencrypted) with mode 0600 from the moment it exists."""
    from cryptography.hazmat.primitives import serialization
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)      # also when the file existed with wider permissions
        os.write(fd, data)
    finally:
        os.close(fd)


def make_certs(out_dir, n_parties, days=DEFAULT_DAYS) -> CertSet:
    """Write out_dir/ca.pem and out_dir/party{i}.pem, party{i}.key for i in
    0..n_parties-1, from a fresh CA (its key is not kept)."""
    if n_parties < 1:
        raise ValueError(f"--parties must be at least 1, got {n_parties}")
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = new_ca(days)
    ca_path = out / "ca.pem"
    write_cert(ca_path, ca_cert)
    certs, keys = [], []
    for i in range(n_parties):
        key, cert = issue_party_certificate(ca_key, ca_cert, i, days)
        cp, kp = out / f"{party_name(i)}.pem", out / f"{party_name(i)}.key"
        write_key(kp, key)
        write_cert(cp, cert)
        certs.append(cp)
        keys.append(kp)
    return CertSet(out, ca_path, certs, keys, ca_key, ca_cert)


# ---- checking this party's own files ----------------------------------------
def _load_pem_cert(path, what):
    from cryptography import x509
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except FileNotFoundError:
        raise CertificateError(f"{what} file not found: {path}") from None
    except ValueError as exc:
        raise CertificateError(f"{what} file {path} is not a PEM certificate: {exc}") from None


def certificate_names(cert) -> set:
    """CN and SAN DNS names of a cryptography certificate."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    names = {a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names |= set(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return names


def check_own_certificate(party_id, cert_path, ca_path, now=None) -> list:
    """Problems with this party's own certificate, in words (empty if none):
    expired / not yet valid, not issued by the configured CA, or issued for
    another party. Checked at start so the party can say so itself."""
    now = now or _now()
    cert = _load_pem_cert(cert_path, "certificate")
    ca = _load_pem_cert(ca_path, "CA certificate")
    problems = []
    end, start = cert.not_valid_after_utc, cert.not_valid_before_utc
    if end < now:
        problems.append(f"its own certificate {cert_path} expired on "
                        f"{end:%Y-%m-%d %H:%M} UTC")
    elif start > now:
        problems.append(f"its own certificate {cert_path} is not valid before "
                        f"{start:%Y-%m-%d %H:%M} UTC (check the clock)")
    if ca.not_valid_after_utc < now:
        problems.append(f"the CA certificate {ca_path} expired on "
                        f"{ca.not_valid_after_utc:%Y-%m-%d %H:%M} UTC")
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - ValueError, TypeError or InvalidSignature
        problems.append(f"its own certificate {cert_path} is not signed by the configured "
                        f"CA {ca_path}")
    names = _party_names(certificate_names(cert))
    if names != {party_name(party_id)}:
        problems.append(f"its own certificate {cert_path} is for "
                        f"{', '.join(sorted(names)) or 'no party'}, not {party_name(party_id)}")
    return problems


# ---- contexts and the identity check ----------------------------------------
def _context(server, ca, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False        # the party identity is checked after the handshake
    ctx.verify_mode = ssl.CERT_REQUIRED
    if server:
        ctx.num_tickets = 0           # no session resumption
    try:
        ctx.load_verify_locations(cafile=str(ca))
    except FileNotFoundError:
        raise CertificateError(f"CA certificate file not found: {ca}") from None
    except ssl.SSLError as exc:
        raise CertificateError(f"CA certificate file {ca} cannot be used: {exc}") from None
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as exc:
        raise CertificateError(f"certificate or key file not found: "
                               f"{exc.filename or f'{cert} / {key}'}") from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise CertificateError(f"key {key} does not belong to certificate {cert}") from None
        raise CertificateError(f"certificate {cert} / key {key} cannot be used: {exc}") from None
    return ctx


def _party_names(names):
    return {n for n in names if _PARTY_NAME.match(n)}


def peer_names(sock) -> set:
    """CN and SAN DNS names of the verified peer certificate of an SSLSocket."""
    cert = sock.getpeercert() or {}
    names = {v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"}
    names |= {v for k, v in cert.get("subjectAltName", ()) if k == "DNS"}
    return names


def identity_problem(sock, peer):
    """None if the peer certificate names exactly party{peer}, else why not."""
    names = _party_names(peer_names(sock))
    if names == {party_name(peer)}:
        return None
    shown = ", ".join(sorted(names)) or "no party name"
    return f"certificate is for {shown}, not {party_name(peer)}"


@dataclass
class TlsSetup:
    """What one party needs for TLS: both contexts, the identity check, and
    the problems found with its own certificate at start (empty if none)."""
    party_id: int
    server_ctx: ssl.SSLContext
    client_ctx: ssl.SSLContext
    own_problems: list

    def peer_identity(self, sock, peer):
        """Raise WrongPartyCertificate unless the peer certificate is party{peer}'s."""
        problem = identity_problem(sock, peer)
        if problem:
            raise WrongPartyCertificate(problem, peer)


def tls_setup(party_id, ca, cert, key, now=None) -> TlsSetup:
    problems = check_own_certificate(party_id, cert, ca, now)
    return TlsSetup(party_id, _context(True, ca, cert, key), _context(False, ca, cert, key),
                    problems)


# ---- ssl failures in words ------------------------------------------------------
_UNTRUSTED_CODES = {2, 7, 18, 19, 20, 21, 24, 30}   # X509_V_ERR_* meaning "not our CA"
_EXPIRED, _NOT_YET_VALID = 10, 9

_ALERTS = {   # reason of an alert received from the peer: it refused OUR certificate
    "TLSV1_ALERT_UNKNOWN_CA": (CertificateUntrusted, "certificate verify failed: {who} does not "
                               "accept this party's certificate: not signed by the CA it trusts"),
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": (CertificateExpired, "certificate expired: {who} refused "
                                        "this party's certificate as expired"),
    "SSLV3_ALERT_BAD_CERTIFICATE": (CertificateRejected, "{who} refused this party's certificate "
                                    "(bad certificate)"),
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": (CertificateRejected, "{who} refused this party's "
                                        "certificate (certificate unknown)"),
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": (CertificateRejected, "{who} refused this party's "
                                            "certificate (unsupported certificate)"),
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": (CertificateRejected, "{who} requires a client "
                                          "certificate and got none"),
    "TLSV1_ALERT_DECRYPT_ERROR": (CertificateRejected, "{who} could not verify this party's "
                                  "certificate signature (does the key match the certificate?)"),
    "TLSV1_ALERT_PROTOCOL_VERSION": (TlsError, "TLS version mismatch: TLS 1.3 is required on both "
                                     "sides"),
    "UNSUPPORTED_PROTOCOL": (TlsError, "TLS version mismatch: TLS 1.3 is required on both sides"),
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": (CertificateRejected, "{who} presented no certificate"),
    "WRONG_VERSION_NUMBER": (NotTls, "{who} does not speak TLS (is it running with --insecure?)"),
    "HTTP_REQUEST": (NotTls, "{who} sent an HTTP request, not TLS"),
    "RECORD_LAYER_FAILURE": (NotTls, "{who} does not speak TLS (is it running with --insecure?)"),
    "PACKET_LENGTH_TOO_LONG": (NotTls, "{who} does not speak TLS (is it running with --insecure?)"),
}


def describe_ssl_error(exc, who="the peer"):
    """(PartyError subclass, text) for an exception of a TLS handshake.
    `who` names the other side ("party 0", "the connecting party")."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, msg = getattr(exc, "verify_code", None), getattr(exc, "verify_message", "") or str(exc)
        if code == _EXPIRED:
            return CertificateExpired, f"certificate expired: {who}'s certificate has expired ({msg})"
        if code == _NOT_YET_VALID:
            return CertificateExpired, (f"certificate not yet valid: {who}'s certificate is not "
                                        f"valid yet (check the clocks) ({msg})")
        if code in _UNTRUSTED_CODES:
            return CertificateUntrusted, (f"certificate verify failed: {who}'s certificate is not "
                                          f"signed by the configured CA ({msg})")
        return CertificateRejected, f"certificate verify failed: {who}'s certificate: {msg}"
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if reason in _ALERTS:
            cls, text = _ALERTS[reason]
            return cls, text.format(who=who)
        if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
            return TlsError, (f"{who} closed the connection during the TLS handshake (it refused "
                              f"the connection, or does not speak TLS)")
        return TlsError, f"TLS error: {reason or exc}"
    if isinstance(exc, (ConnectionError, EOFError)):
        return TlsError, (f"{who} closed the connection during the TLS handshake ({exc}; it "
                          f"refused the connection, or does not speak TLS)")
    return TlsError, f"{type(exc).__name__}: {exc}"


def describe_refusal(exc):
    """For the accepting side of a failed handshake: (class, text, by_us).
    by_us: this party refused the other's certificate ("certificate not
    signed by the configured CA (unable to get local issuer certificate)");
    otherwise the other side gave up (e.g. it refused this party's)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, msg = getattr(exc, "verify_code", None), getattr(exc, "verify_message", "") or str(exc)
        if code == _EXPIRED:
            return CertificateExpired, f"certificate expired ({msg})", True
        if code == _NOT_YET_VALID:
            return CertificateExpired, f"certificate not yet valid ({msg}; check the clocks)", True
        if code in _UNTRUSTED_CODES:
            return CertificateUntrusted, f"certificate not signed by the configured CA ({msg})", True
        return CertificateRejected, f"certificate verify failed ({msg})", True
    reason = getattr(exc, "reason", None) or ""
    if reason in ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "WRONG_VERSION_NUMBER", "HTTP_REQUEST",
                  "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        cls, text = describe_ssl_error(exc, "the connecting side")
        return cls, text, True
    cls, text = describe_ssl_error(exc, "the connecting side")
    return cls, text, False
