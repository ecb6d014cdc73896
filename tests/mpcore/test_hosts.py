"""Multi-host runs: parties.toml, `safenet party` with every party a separate
OS process on 127.0.0.1 (and, as root with `ip netns`, in separate network
namespaces), TLS refusals seen from both sides, a party killed mid-run."""
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mpcore import tls
from mpcore.hosts import ConfigError, free_local_ports, load_hosts

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")
SMALL = ("bench", "primitives", "--ops", "mul", "--n", "1000", "--repeat", "1")


def _certs_cli(out, n):
    r = subprocess.run([sys.executable, "-m", "bench.cli", "certs", "--out", str(out),
                        "--parties", str(n)], env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return out


def _config(tmp, n, tls_dir="certs", name="parties.toml", swap=None):
    """parties.toml on 127.0.0.1 with free ports; relative paths (to the file)."""
    lines = []
    if tls_dir is not None:
        lines += ["[tls]", f'ca = "{tls_dir}/ca.pem"', ""]
    for i, port in enumerate(free_local_ports(n)):
        lines += ["[[party]]", f"id = {i}", 'host = "127.0.0.1"', f"port = {port}"]
        if tls_dir is not None:
            cert, key = (swap or {}).get(i, (f"{tls_dir}/party{i}.pem", f"{tls_dir}/party{i}.key"))
            lines += [f'cert = "{cert}"', f'key = "{key}"']
        lines.append("")
    path = tmp / name
    path.write_text("\n".join(lines))
    return path


class Parties:
    """Every party a `python -m bench.cli party ...` process; output in files."""

    def __init__(self, tmp, config, n, command=SMALL, extra=(), prefix=(), tag="run"):
        self.tmp, self.n, self.tag = tmp, n, tag
        self.procs, self.files = [], []
        for i in range(n):
            out = open(tmp / f"{tag}-out{i}.txt", "w")
            err = open(tmp / f"{tag}-err{i}.txt", "w")
            self.files += [out, err]
            argv = [*prefix, sys.executable, "-m", "bench.cli", "party", "--config", str(config),
                    "--id", str(i), *extra, *command, "--json", str(tmp / f"{tag}-p{{id}}.json")]
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=err, env=ENV, cwd=tmp))

    def wait(self, timeout=60):
        deadline = time.monotonic() + timeout
        try:
            for p in self.procs:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
        finally:
            self.kill()
        return [p.returncode for p in self.procs]

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in self.files:
            f.close()

    def err(self, i):
        return (self.tmp / f"{self.tag}-err{i}.txt").read_text()

    def json(self, i):
        return json.loads((self.tmp / f"{self.tag}-p{i}.json").read_text())


@pytest.fixture
def certs3(tmp_path):
    return _certs_cli(tmp_path / "certs", 3)


# ---- parties.toml ---------------------------------------------------------------
def test_config_paths_are_relative_to_the_file(tmp_path, certs3):
    sub = tmp_path / "conf"
    sub.mkdir()
    path = sub / "parties.toml"
    path.write_text(_config(tmp_path, 3).read_text().replace('"certs/', '"../certs/'))
    cfg = load_hosts(path, party_id=1)
    assert cfg.n_parties == 3 and cfg.tls
    assert cfg.ca.resolve() == (certs3 / "ca.pem").resolve()
    assert cfg.parties[2].key.resolve() == (certs3 / "party2.key").resolve()
    assert cfg.addresses[0][0] == "127.0.0.1"


def _write(tmp_path, text):
    p = tmp_path / "p.toml"
    p.write_text(textwrap.dedent(text))
    return p


PARTY = '[[party]]\nid = {i}\nhost = "127.0.0.1"\nport = {port}\n'


@pytest.mark.parametrize("text,message", [
    (PARTY.format(i=0, port=15000), r"no \[tls\] table.*--insecure"),
    ('[tls]\nca = "ca.pem"\n' + PARTY.format(i=0, port=15000), r"\[\[party\]\] #1 \(id 0\) is missing the field 'cert'"),
    ('[tls]\n' + PARTY.format(i=0, port=15000), r"\[tls\] is missing the field 'ca'"),
])
def test_config_errors_tls(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_hosts(_write(tmp_path, text))


@pytest.mark.parametrize("text,message", [
    (PARTY.format(i=0, port=15000) + PARTY.format(i=0, port=15001), "duplicate party id 0"),
    (PARTY.format(i=0, port=15000) + PARTY.format(i=2, port=15001), r"ids must be 0\.\.1"),
    (PARTY.format(i=1, port=15000), r"ids must be 0\.\.0"),
    ('[[party]]\nid = 0\nport = 15000\n', "is missing the field 'host'"),
    ('[[party]]\nid = 0\nhost = "h"\nport = "15000"\n', "'port' must be an integer"),
    ('[[party]]\nid = 0\nhost = "h"\nport = 70000\n', "port must be in 1..65535"),
    (PARTY.format(i=0, port=15000) + PARTY.format(i=1, port=15000), "both use 127.0.0.1:15000"),
    ("x = 1\n", "unknown top-level key"),
    ("[[party]\n", "not valid TOML"),
    ("", r"no \[\[party\]\] tables"),
])
def test_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_hosts(_write(tmp_path, text), insecure=True)


def test_config_missing_files_are_named(tmp_path, certs3):
    path = _config(tmp_path, 3)
    load_hosts(path, party_id=0)
    (certs3 / "party1.key").unlink()
    load_hosts(path, party_id=0)      # a host holds only its own key
    with pytest.raises(ConfigError, match=r"key of party 1 file not found: .*party1\.key"):
        load_hosts(path, party_id=1)
    with pytest.raises(ConfigError, match="hosts file not found"):
        load_hosts(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="there is no party 3"):
        load_hosts(path, party_id=3)


def test_missing_tls_without_insecure_is_a_clear_cli_error(tmp_path):
    cfg = _config(tmp_path, 3, tls_dir=None)
    r = subprocess.run([sys.executable, "-m", "bench.cli", "party", "--config", str(cfg),
                        "--id", "0", *SMALL], env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "no [tls] table" in r.stderr and "--insecure" in r.stderr


# ---- whole runs, one process per party -------------------------------------------------
def _check_correct(parties, n, n_el=1000, protocol="rep3"):
    doc = parties.json(0)
    (r,) = doc["results"]
    assert r["correct"] is True and r["cost_matches_declared"] is True
    assert r["protocol"] == protocol and r["n"] == n_el
    assert len(r["bytes_sent"]) == n and all(b > 0 for b in r["bytes_sent"])
    assert r["bytes_sent"] == r["declared"]["bytes_sent"]
    assert doc["meta"]["settings"]["party"]["id"] == 0
    for i in range(1, n):
        own = parties.json(i)["results"][0]
        assert own["correct"] is None and own["party"] == i
        assert own["bytes_sent"][i] == r["bytes_sent"][i]
    return r


def test_three_parties_over_tls(tmp_path, certs3):
    cfg = _config(tmp_path, 3)
    parties = Parties(tmp_path, cfg, 3)
    assert parties.wait() == [0, 0, 0], [parties.err(i) for i in range(3)]
    r = _check_correct(parties, 3)
    assert r["tls"] is True and r["bytes_sent"] == [8000, 8000, 8000]


def test_four_parties_over_tls(tmp_path):
    import protocols
    if "rep4" not in protocols.PROTOCOLS:
        pytest.skip("no 4-party protocol registered yet")
    _certs_cli(tmp_path / "certs", 4)
    cfg = _config(tmp_path, 4)
    parties = Parties(tmp_path, cfg, 4, command=SMALL + ("--protocol", "rep4"))
    assert parties.wait() == [0, 0, 0, 0], [parties.err(i) for i in range(4)]
    r = _check_correct(parties, 4, protocol="rep4")
    assert r["tls"] is True


PROGRAM_4 = '''
import sys, numpy as np
from mpcore.hosts import load_hosts
from mpcore.launcher import run_parties
N = 2_000_000
def data(src, dst):
    return np.arange(N, dtype=np.uint64) * np.uint64(src + 1) + np.uint64(dst)
def program(session):
    me, net = session.party_id, session.net
    with session.ledger.op("all_to_all"):      # 16 MB each way on every link at once
        for p in net.peers():
            net.send(p, data(me, p))
        got = {p: net.recv(p, N) for p in net.peers()}
    assert all(np.array_equal(a, data(p, me)) for p, a in got.items())
    return sorted(got)
i = int(sys.argv[2])
res = run_parties(program, 4, hosts=load_hosts(sys.argv[1], party_id=i), party_id=i, timeout=30)
print("values", [v for v in res.values])
print("ledgers", [l is not None for l in res.ledgers])
if i == 0:
    print("merged", res.summary()["bytes_sent"])
'''


def test_four_parties_run_parties_api(tmp_path):
    """The launcher API itself, with large simultaneous transfers on every link:
    party 0 gets every ledger, nobody else's value."""
    _certs_cli(tmp_path / "certs", 4)
    cfg = _config(tmp_path, 4)
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM_4)
    procs = [subprocess.Popen([sys.executable, str(script), str(cfg), str(i)], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=60))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert "merged [48000000, 48000000, 48000000, 48000000]" in outs[0][0]
    assert "ledgers [True, True, True, True]" in outs[0][0]
    for i in range(4):
        others = [p for p in range(4) if p != i]
        values = ["None"] * 4
        values[i] = str(others)
        assert f"values [{', '.join(values)}]" in outs[i][0]
        if i:
            flags = ["False"] * 4
            flags[i] = "True"
            assert f"ledgers [{', '.join(flags)}]" in outs[i][0]


def test_insecure_without_tls_table(tmp_path):
    cfg = _config(tmp_path, 3, tls_dir=None)
    parties = Parties(tmp_path, cfg, 3, extra=("--insecure",))
    assert parties.wait() == [0, 0, 0], [parties.err(i) for i in range(3)]
    r = _check_correct(parties, 3)
    assert r["tls"] is False
    assert "WITHOUT TLS" in parties.err(1)


# ---- refusals ----------------------------------------------------------------------------
def _refused_run(tmp_path, swap, tag):
    cfg = _config(tmp_path, 3, swap=swap, name=f"{tag}.toml")
    parties = Parties(tmp_path, cfg, 3, extra=("--connect-timeout", "3"), tag=tag)
    codes = parties.wait(timeout=40)
    assert all(c != 0 for c in codes), codes
    port0 = load_hosts(cfg).addresses[0][1]
    return parties, port0


def test_foreign_ca_is_refused(tmp_path, certs3):
    _certs_cli(tmp_path / "other", 3)
    parties, port0 = _refused_run(tmp_path, {2: ("other/party2.pem", "other/party2.key")}, "ca")
    e0, e1, e2 = (parties.err(i) for i in range(3))
    assert "party 0 refused a connection from 127.0.0.1:" in e0
    assert "certificate not signed by the configured CA" in e0
    assert "party 2 (expected from its address 127.0.0.1) did not connect" in e0
    assert f"party 2: TLS handshake with party 0 at 127.0.0.1:{port0} failed: certificate verify failed" in e2
    assert "not signed by the CA it trusts" in e2 and "(CertificateUntrusted)" in e2
    assert "WARNING: its own certificate" in e2
    assert "party 2" in e1


def test_expired_certificate_is_refused(tmp_path):
    made = tls.make_certs(tmp_path / "certs", 3)
    now = dt.datetime.now(dt.timezone.utc)
    key, cert = tls.issue_party_certificate(made.ca_key, made.ca_cert, 2,
                                            not_before=now - dt.timedelta(days=30),
                                            not_after=now - dt.timedelta(days=1))
    tls.write_key(tmp_path / "certs" / "old2.key", key)
    tls.write_cert(tmp_path / "certs" / "old2.pem", cert)
    parties, port0 = _refused_run(tmp_path, {2: ("certs/old2.pem", "certs/old2.key")}, "exp")
    e0, e2 = parties.err(0), parties.err(2)
    assert "party 0 refused a connection" in e0 and "certificate expired" in e0
    assert f"party 2: TLS handshake with party 0 at 127.0.0.1:{port0} failed: certificate expired" in e2
    assert "old2.pem expired on" in e2        # its own check at start says so too


def test_certificate_for_another_party_is_refused(tmp_path, certs3):
    parties, port0 = _refused_run(tmp_path, {2: ("certs/party1.pem", "certs/party1.key")}, "id")
    e0, e2 = parties.err(0), parties.err(2)
    assert "it claims to be party 2, but its certificate is for party1, not party2" in e0
    assert f"party 2: TLS handshake with party 0 at 127.0.0.1:{port0} failed" in e2
    assert "certificate is for party1, not party2" in e2 and "(WrongPartyCertificate)" in e2


# ---- a party dies ---------------------------------------------------------------------------
def _wait_for(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.05)
    return False


def test_party_killed_mid_run_is_named_by_the_others(tmp_path, certs3):
    cfg = _config(tmp_path, 3)
    long_run = ("bench", "primitives", "--ops", "mul", "--n", "200000", "--repeat", "2000")
    parties = Parties(tmp_path, cfg, 3, command=long_run, extra=("--timeout", "15"), tag="kill")
    try:
        assert _wait_for(tmp_path / "kill-err2.txt", "bench primitives: started", 30), parties.err(2)
        time.sleep(0.5)
        assert parties.procs[2].poll() is None, "the run ended before the kill"
        parties.procs[2].send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        for i in (0, 1):
            parties.procs[i].wait(timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        codes = parties.wait(timeout=5)
    assert codes[2] == -signal.SIGKILL
    assert codes[0] != 0 and codes[1] != 0
    assert elapsed < 15
    for i in (0, 1):
        assert "party 2" in parties.err(i) and "safenet: error:" in parties.err(i), parties.err(i)


# ---- separate network namespaces --------------------------------------------------------------
def test_three_parties_in_network_namespaces(tmp_path):
    """Each party in its own namespace with its own 10.x address, joined by a
    bridge in a fourth namespace (bench.netns); nothing is left behind."""
    from bench import netns
    reason = netns.unavailable_reason(need_netem=False)
    if reason:
        pytest.skip(reason)
    codes, doc = netns.run_in_namespaces(list(SMALL), 3, workdir=tmp_path, timeout=60)
    assert codes == [0, 0, 0]
    r = doc["results"][0]
    assert r["correct"] is True and r["bytes_sent"] == [8000, 8000, 8000] and r["tls"] is True
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"sn{os.getpid() % 100000}p0" not in left


def test_netns_wan_says_why_it_skips(capsys):
    """Asked for netem without netem (this machine kind) or root, the WAN command
    explains and exits 0 (--strict: 1). The default --link auto falls back to
    the TUN router (tests/bench/test_tunlink.py)."""
    from bench import netns
    reason = netns.unavailable_reason(link="netem")
    if reason is None:
        pytest.skip("netem is available here: nothing to explain")
    assert netns.main(["--parties", "3", "--link", "netem", "--", *SMALL]) == 0
    assert "skipped: " + reason in capsys.readouterr().out
    assert netns.main(["--parties", "3", "--link", "netem", "--strict", "--", *SMALL]) == 1
    if netns.unavailable_reason(link="auto") is None:
        assert netns.resolve_link("auto", shaped=True) == "tun"


# ---- start-up and end-of-run details ------------------------------------------------------
def test_missing_party_is_named_with_address_and_wait(tmp_path, certs3):
    """Party 0 never starts: 1 and 2 say whom they could not reach, where, after how long."""
    cfg = _config(tmp_path, 3)
    port0 = load_hosts(cfg).addresses[0][1]
    parties = Parties(tmp_path, cfg, 3, extra=("--connect-timeout", "2"), tag="miss")
    parties.procs[0].kill()                      # before it can listen
    codes = parties.wait(timeout=30)
    assert codes[1] != 0 and codes[2] != 0
    for i in (1, 2):      # both connect to party 0 first
        assert (f"party {i}: could not reach party 0 at 127.0.0.1:{port0} within 2 s"
                in parties.err(i)), parties.err(i)


def test_ledger_from_a_peer_cannot_run_code():
    import pickle
    from mpcore.errors import ProtocolDesync
    from mpcore.launcher import _load_ledger
    from mpcore.ledger import Ledger

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(ProtocolDesync, match="cannot be read.*not part of a ledger"):
        _load_ledger(pickle.dumps(Evil()), 1, 3)
    with pytest.raises(ProtocolDesync, match="not its ledger"):
        _load_ledger(pickle.dumps(Ledger(2, 3)), 1, 3)
    ledger = Ledger(1, 3)
    with ledger.op("mul"):
        ledger.on_send(0, 8, 32)
    assert _load_ledger(pickle.dumps(ledger), 1, 3).records[0].bytes_sent[0] == 8
