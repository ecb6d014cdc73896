"""The hosts file (parties.toml) of a multi-host run. Imports errors, tls.

    [tls]                      # omit only for an explicit --insecure run
    ca = "certs/ca.pem"
    [[party]]
    id = 0
    host = "10.0.0.1"
    port = 15000
    cert = "certs/party0.pem"
    key = "certs/party0.key"

`load_hosts(path, party_id=I)` parses it (tomllib), resolves relative paths
against the file's folder and checks it: ids 0..N-1 without duplicates,
every field present with the right type, ports in range, no two parties on
one host:port, and, for party I only (a host holds only its own key), that
the CA, certificate and key files exist. Every problem raises ConfigError
(a ValueError) naming the file and the party table.
"""
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import MPCError

log = logging.getLogger(__name__)


class ConfigError(MPCError, ValueError):
    """The hosts file is missing, malformed or incomplete."""


@dataclass(frozen=True)
class PartyHost:
    id: int
    host: str
    port: int
    cert: Path = None
    key: Path = None


@dataclass
class HostConfig:
    """Where every party listens, and the TLS files (None with insecure)."""
    parties: list
    ca: Path = None
    insecure: bool = False
    source: str = "parties.toml"

    @property
    def n_parties(self):
        return len(self.parties)

    @property
    def tls(self):
        return not self.insecure

    @property
    def addresses(self):
        return [(p.host, p.port) for p in self.parties]

    def check_party(self, party_id):
        """Raise ConfigError unless `party_id` exists and, with TLS, its CA,
        certificate and key files exist."""
        if not isinstance(party_id, int) or not 0 <= party_id < self.n_parties:
            raise ConfigError(f"{self.source}: there is no party {party_id}; the parties are "
                              f"0..{self.n_parties - 1}")
        if self.insecure:
            return
        me = self.parties[party_id]
        for what, path in (("CA certificate ([tls] ca)", self.ca),
                           (f"certificate of party {party_id}", me.cert),
                           (f"key of party {party_id}", me.key)):
            if not Path(path).is_file():
                raise ConfigError(f"{self.source}: {what} file not found: {path}")

    def tls_setup(self, party_id, now=None):
        """The TlsSetup (contexts, identity check) of `party_id`; None if insecure."""
        if self.insecure:
            return None
        self.check_party(party_id)
        from .tls import tls_setup
        me = self.parties[party_id]
        return tls_setup(party_id, self.ca, me.cert, me.key, now=now)

    def describe(self):
        return {"config": self.source, "n_parties": self.n_parties, "tls": self.tls,
                "addresses": [f"{h}:{p}" for h, p in self.addresses]}


def _need(table, name, kind, where, source):
    if name not in table:
        raise ConfigError(f"{source}: {where} is missing the field '{name}'")
    value = table[name]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(f"{source}: {where}: '{name}' must be "
                          f"{'an integer' if kind is int else 'a string'}, got {value!r}")
    return value


def hosts_from_dict(data, base_dir=".", insecure=False, source="parties.toml") -> HostConfig:
    """Build and check a HostConfig from parsed TOML (see the module docstring)."""
    base = Path(base_dir)

    def resolve(p):
        p = Path(p).expanduser()
        return p if p.is_absolute() else base / p

    unknown = set(data) - {"tls", "party"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                          f"expected a [tls] table and [[party]] tables")
    tables = data.get("party")
    if not tables:
        raise ConfigError(f"{source}: no [[party]] tables; write one per party with id, host, "
                          f"port (and cert, key for TLS)")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{source}: 'party' must be an array of tables, written [[party]]")
    tls_table = data.get("tls")
    if tls_table is not None and not isinstance(tls_table, dict):
        raise ConfigError(f"{source}: 'tls' must be a table, written [tls]")
    if insecure:
        if tls_table is not None:
            log.warning("%s: --insecure given: ignoring the [tls] table; the parties talk "
                        "without encryption or authentication", source)
        ca = None
    else:
        if tls_table is None:
            raise ConfigError(
                f"{source}: no [tls] table: add one with ca = \"ca.pem\" (and cert, key in every "
                f"[[party]]; make them with `safenet certs`), or pass --insecure explicitly to run "
                f"without TLS")
        ca = resolve(_need(tls_table, "ca", str, "[tls]", source))
    parties = {}
    seen_addr = {}
    for k, t in enumerate(tables):
        where = f"[[party]] #{k + 1}"
        pid = _need(t, "id", int, where, source)
        where = f"[[party]] #{k + 1} (id {pid})"
        host = _need(t, "host", str, where, source)
        port = _need(t, "port", int, where, source)
        if not 1 <= port <= 65535:
            raise ConfigError(f"{source}: {where}: port must be in 1..65535, got {port}")
        if pid in parties:
            raise ConfigError(f"{source}: duplicate party id {pid} ({where} and an earlier table)")
        if (host, port) in seen_addr:
            raise ConfigError(f"{source}: parties {seen_addr[(host, port)]} and {pid} both use "
                              f"{host}:{port}")
        seen_addr[(host, port)] = pid
        cert = key = None
        if not insecure:
            cert = resolve(_need(t, "cert", str, where, source))
            key = resolve(_need(t, "key", str, where, source))
        parties[pid] = PartyHost(pid, host, port, cert, key)
    n = len(parties)
    if sorted(parties) != list(range(n)):
        raise ConfigError(f"{source}: party ids must be 0..{n - 1} (one [[party]] per party), "
                          f"got {sorted(parties)}")
    return HostConfig([parties[i] for i in range(n)], ca, insecure, source)


def load_hosts(path, insecure=False, party_id=None) -> HostConfig:
    """Parse and check a hosts file; with `party_id`, also check that party's files."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"hosts file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read hosts file {path}: {exc}") from None
    try:
        data = tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    cfg = hosts_from_dict(data, path.resolve().parent, insecure, str(path))
    if party_id is not None:
        cfg.check_party(party_id)
    return cfg


def write_hosts(path, addresses, cert_dir=None):
    """Write a parties.toml for `addresses` [(host, port)] (tests, examples).
    With `cert_dir` (as written by `safenet certs`) it gets a [tls] table."""
    lines = []
    if cert_dir is not None:
        lines += ["[tls]", f'ca = "{Path(cert_dir) / "ca.pem"}"', ""]
    for i, (host, port) in enumerate(addresses):
        lines += ["[[party]]", f"id = {i}", f'host = "{host}"', f"port = {port}"]
        if cert_dir is not None:
            lines += [f'cert = "{Path(cert_dir) / f"party{i}.pem"}"',
                      f'key = "{Path(cert_dir) / f"party{i}.key"}"']
        lines.append("")
    Path(path).write_text("\n".join(lines))
    return Path(path)


def free_local_ports(k):
    """k TCP ports on 127.0.0.1 that are free right now (for trying a
    multi-host run on one machine: write_hosts(path, [("127.0.0.1", p) ...]))."""
    import socket
    socks = [socket.socket() for _ in range(k)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
