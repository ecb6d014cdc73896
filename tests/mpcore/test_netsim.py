"""Channel-level network emulation: latency per round and uplink rate."""
import time

import numpy as np
import pytest

import protocols
from mpcore.netsim import NetworkProfile


def _rounds(p, k):
    x = p.input(np.ones(8, np.uint64) if p.party_id == 0 else None, 0, (8,))
    t0 = time.perf_counter()
    for _ in range(k):
        x = p.mul(x, x)
    return time.perf_counter() - t0, p.reveal(x)


@pytest.mark.parametrize("transport,processes", [("memory", False), ("tcp", True)])
def test_latency_adds_per_round(transport, processes):
    prof = NetworkProfile(latency_s=0.01)
    res = protocols.run(_rounds, "rep3", args=(10,), network=prof, transport=transport,
                        processes=processes)
    seconds = max(v[0] for v in res.values)
    assert 0.1 <= seconds < 0.2            # 10 rounds of 10 ms one-way latency
    assert np.array_equal(res.values[0][1], np.ones(8, np.uint64))


def test_bandwidth_limits_large_messages():
    n = 250_000                              # 2 MB per party per mul
    prof = NetworkProfile(bandwidth_Bps=20e6)

    def program(p):
        x = p.input(np.ones(n, np.uint64) if p.party_id == 0 else None, 0, (n,))
        t0 = time.perf_counter()
        p.mul(x, x)
        return time.perf_counter() - t0

    seconds = max(protocols.run(program, "rep3", network=prof).values)
    assert 0.1 <= seconds < 0.3              # 2 MB at 20 MB/s = 0.1 s


def test_profile_validation():
    with pytest.raises(ValueError):
        NetworkProfile(latency_s=-1)
    assert "40 ms round trip, 100 Mbit/s" in NetworkProfile(0.02, 12.5e6).describe()
