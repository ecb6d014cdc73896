"""The TCP transport's single-threaded data path (mpcore.tcp): simultaneous
large sends in both directions never deadlock, frames keep their order,
sends from another thread (netsim's delivery threads) are safe, and the
key set-up is a barrier. Also the allocator tuning."""
import numpy as np

import protocols
from mpcore import alloc
from mpcore.launcher import run_parties
from mpcore.netsim import NetworkProfile

N = 3_000_000          # 24 MB each way on every link at once: far beyond the socket buffers


def _all_to_all(session):
    me, net = session.party_id, session.net
    got = []
    with session.ledger.op("big"):
        for p in net.peers():
            net.send(p, np.arange(N, dtype=np.uint64) * np.uint64(me + 1) + np.uint64(p))
        for p in net.peers():
            a = net.recv(p, N)
            got.append(bool(np.array_equal(a, np.arange(N, dtype=np.uint64) * np.uint64(p + 1)
                                           + np.uint64(me))))
    with session.ledger.op("small"):
        for k in range(300):
            for p in net.peers():
                net.send(p, np.array([k, me], dtype=np.uint64))
        for k in range(300):
            for p in net.peers():
                got.append(net.recv(p, 2).tolist() == [k, p])
    return all(got)


def test_large_simultaneous_sends_over_plain_tcp():
    res = run_parties(_all_to_all, 3, transport="tcp", processes=True, timeout=60)
    assert res.values == [True, True, True]


def test_sends_from_delivery_threads_are_safe():
    """netsim sends from its own threads while the party thread receives."""
    n = 1_000_000

    def program(p):
        x = p.input(np.arange(n, dtype=np.uint64) if p.party_id == 0 else None, 0, (n,))
        return p.reveal(p.mul(p.mul(x, x), x))[-3:]

    res = protocols.run(program, "rep3", transport="tcp", processes=True,
                        network=NetworkProfile(bandwidth_Bps=400e6))
    want = (np.arange(n - 3, n, dtype=np.uint64)) ** np.uint64(3)
    assert all(np.array_equal(v, want) for v in res.values)


def test_key_setup_is_a_barrier():
    """Every party sends to and receives from every peer in "setup" (one
    round, no extra bytes): no party starts its program before the others
    have finished theirs' set-up messages."""
    res = protocols.run(lambda p: None, "rep3", transport="tcp", processes=True)
    setup = [r for r in res.ledgers[0].records if r.name == "setup"][0]
    assert sorted(setup.msgs_sent) == [1, 2] and sorted(setup.msgs_recv) == [1, 2]
    merged = [m for m in res.merged if m.name == "setup"][0]
    assert merged.rounds == 1 and merged.bytes_sent == [32, 16, 0]


def test_allocator_tuning_applies():
    assert alloc.tune() is True and alloc.tune() is True
