"""Failure handling of the launcher and channels: no hang, and every error
names the party it concerns."""
import os
import time

import numpy as np
import pytest

from mpcore.errors import PeerAborted, PeerLost, PeerTimeout, RunFailed
from mpcore.launcher import run_parties


def _ring(session):
    """Each party sends to the next and receives from the previous."""
    me, n = session.party_id, session.n_parties
    with session.ledger.op("ring"):
        session.net.send((me + 1) % n, np.array([me], dtype=np.uint64))
        return int(session.net.recv((me - 1) % n, 1)[0])


@pytest.mark.parametrize("transport,processes", [("memory", False), ("tcp", False), ("tcp", True)])
def test_basic_run(transport, processes):
    res = run_parties(_ring, 4, transport=transport, processes=processes)
    assert res.values == [3, 0, 1, 2]
    assert [l.total_bytes_sent for l in res.ledgers] == [8] * 4


def _raises_on_1(session):
    if session.party_id == 1:
        raise ValueError("bad input shape (3, 4)")
    with session.ledger.op("all_to_all"):
        for p in session.net.peers():
            session.net.send(p, np.zeros(1, np.uint64))
        return [session.net.recv(p, 1) for p in session.net.peers()]


@pytest.mark.parametrize("transport,processes", [("memory", False), ("tcp", True)])
def test_raising_party_is_named_everywhere(transport, processes):
    t0 = time.monotonic()
    with pytest.raises(RunFailed, match=r"party 1 first: party 1: ValueError: bad input shape") as ei:
        run_parties(_raises_on_1, 3, transport=transport, processes=processes, timeout=20)
    assert time.monotonic() - t0 < 20      # within the run timeout
    errors = ei.value.errors
    for i in (0, 2):
        assert "party 1 aborted" in str(errors[i])


def _dies(session):
    if session.party_id == 2:
        os._exit(3)
    return _ring(session)


def test_dead_process_is_detected():
    t0 = time.monotonic()
    with pytest.raises(RunFailed) as ei:
        run_parties(_dies, 3, transport="tcp", processes=True, timeout=20)
    assert time.monotonic() - t0 < 20      # within the run timeout
    msg = str(ei.value)
    assert "party 2 process died (exit code 3)" in msg
    # the survivors name party 2 (directly, or the party that reported it)
    assert "party 2" in str(ei.value.errors[0]) or "party 2" in str(ei.value.errors[1])


def _silent(session):
    if session.party_id == 0:
        time.sleep(3)
        return None
    return _ring(session)


def test_silent_party_times_out_with_clear_error():
    with pytest.raises(RunFailed) as ei:
        run_parties(_silent, 3, transport="memory", timeout=1.0)
    assert any(isinstance(e, PeerTimeout) and "no message from party 0 within 1 s" in str(e)
               for e in ei.value.errors if e is not None)


def test_message_in_wrong_op_is_a_desync():
    def program(session):
        me = session.party_id
        with session.ledger.op("first"):
            if me == 0:
                session.net.send(1, np.zeros(1, np.uint64))
        with session.ledger.op("second"):
            if me == 1:
                return session.net.recv(0, 1)
    with pytest.raises(RunFailed, match=r"party 0 sent a message for op #1 while this party is in op #2"):
        run_parties(program, 2)


def test_wrong_size_is_a_desync():
    def program(session):
        with session.ledger.op("x"):
            if session.party_id == 0:
                session.net.send(1, np.zeros(3, np.uint64))
            else:
                return session.net.recv(0, 2)
    with pytest.raises(RunFailed, match="party 0 sent 24 bytes in op x, expected 16"):
        run_parties(program, 2)


def test_unreachable_party_named():
    from mpcore.channels import TcpNetwork
    from mpcore.errors import Unreachable
    from mpcore.ledger import Ledger
    with pytest.raises(Unreachable, match=r"could not reach party 0 at 127.0.0.1:1 "):
        TcpNetwork(1, 2, Ledger(1, 2), [("127.0.0.1", 1), ("127.0.0.1", 0)],
                   connect_timeout=0.5)


def test_lost_peer_kinds():
    assert issubclass(PeerLost, Exception) and issubclass(PeerAborted, Exception)
