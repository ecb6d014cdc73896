"""Round and byte counting of the ledger."""
import numpy as np

from mpcore.launcher import run_parties
from mpcore.ledger import Cost, summarize


def test_rounds_are_lamport_depth_and_sum_over_ops():
    def program(s):
        me = s.ledger, s.party_id
        net, i = s.net, s.party_id
        with s.ledger.scope("phase"):
            with s.ledger.op("chain"):          # 0 -> 1 -> 2: two rounds
                if i == 0:
                    net.send(1, np.zeros(2, np.uint64))
                if i == 1:
                    net.recv(0, 2)
                    net.send(2, np.zeros(1, np.uint64))
                if i == 2:
                    net.recv(1, 1)
            with s.ledger.op("all_to_all"):     # one round
                for p in net.peers():
                    net.send(p, np.zeros(1, np.uint64))
                for p in net.peers():
                    net.recv(p, 1)
        return me

    res = run_parties(program, 3)
    merged = res.merged
    assert [m.rounds for m in merged] == [2, 1]
    total = summarize(merged, ("phase",))
    assert total["rounds"] == 3
    assert total["bytes_sent"] == [16 + 16, 8 + 16, 16]
    assert total["messages_sent"] == [3, 3, 2]


def test_nested_ops_measure_their_own_rounds():
    def program(s):
        net, i = s.net, s.party_id
        with s.ledger.op("outer"):
            with s.ledger.op("inner1"):
                net.send(1 - i, np.zeros(1, np.uint64)); net.recv(1 - i, 1)
            with s.ledger.op("inner2"):
                net.send(1 - i, np.zeros(1, np.uint64)); net.recv(1 - i, 1)
    merged = run_parties(program, 2).merged
    by = {m.name: m for m in merged}
    assert (by["inner1"].rounds, by["inner2"].rounds, by["outer"].rounds) == (1, 1, 2)


def test_cost_addition():
    c = Cost(1, (2, 3)) + Cost(2, (1, 0), (32, 0))
    assert c.rounds == 3 and c.elements_sent == (3, 3) and c.bytes_sent() == (56, 24)
