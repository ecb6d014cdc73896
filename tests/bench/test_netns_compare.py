"""`python -m bench.netns_compare`: `safenet compare` with every party in
its own network namespace, LAN and shaped WAN side by side, from one set of
owners' uploads: the bytes and rounds are the network-independent part and
must be equal on both links; the WAN run must pay at least its rounds'
one-way delays."""
import json

import pytest

from bench import netns, netns_compare

SMALL = ["--owners", "3", "--n", "300", "--epochs", "1", "--model", "logreg"]


def test_compare_in_namespaces_lan_and_wan(tmp_path):
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(reason)
    rtt_ms = 10.0
    assert netns_compare.main(["--rtt-ms", str(rtt_ms), "--rate-mbit", "100", "--insecure",
                               "--out", str(tmp_path), "--timeout", "300", "--", *SMALL]) == 0
    doc = json.loads((tmp_path / "netns_compare.json").read_text())
    assert doc["network"]["wan"] == {"rtt_ms": rtt_ms, "rate_mbit": 100.0}
    for mode in ("ensemble", "monolithic"):
        lan, wan = doc["lan"][mode]["total"], doc["wan"][mode]["total"]
        assert lan["bytes_sent"] == wan["bytes_sent"] and lan["rounds"] == wan["rounds"]
        assert wan["mpc_seconds"] >= wan["rounds"] * rtt_ms / 2 / 1000
        assert doc["lan"][mode]["accuracy"] is not None
    assert doc["lan"]["ensemble"]["accuracy"] == doc["wan"]["ensemble"]["accuracy"]
    assert doc["link"]["wan"]["rtt_ms"] == rtt_ms


def test_says_why_it_skips(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(netns, "unavailable_reason", lambda **kw: "network namespaces need root")
    assert netns_compare.main(["--out", str(tmp_path), "--", *SMALL]) == 0
    assert "skipped: network namespaces need root" in capsys.readouterr().out
    assert netns_compare.main(["--strict", "--out", str(tmp_path), "--", *SMALL]) == 1
