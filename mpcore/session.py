"""One party's view of a run: its id, network, ledger and PRG keys.

Imports prg, ledger, fixedpoint. Keys are agreed at session start over the
channels: for every subset of parties a protocol needs a shared stream for,
the lowest party id of the subset draws a fresh key and sends it to the
other members (one message per peer, one round, op "setup"). With an
explicit `test_seed` the keys are derived from that seed instead (INSECURE,
for reproducible tests only); the messages are still sent, so the cost of
set-up is the same in both modes. Every party also sends an empty message
to each peer it sends no key to (still one round, no extra bytes), so the
set-up is a barrier: programs start together (a timer started after it
does not count another party's late start).
"""
from .fixedpoint import DEFAULT, FixedPoint
from .prg import KEY_BYTES, Prg, fresh_key, test_mode_key


class Session:
    def __init__(self, party_id, n_parties, net, ledger, test_seed=None,
                 fixed_point: FixedPoint = DEFAULT):
        self.party_id = party_id
        self.n_parties = n_parties
        self.net = net
        self.ledger = ledger
        self.test_seed = test_seed
        self.fx = fixed_point
        self.private = Prg(self._new_key(f"private/{party_id}"), name=f"private{party_id}")

    def _new_key(self, label):
        if self.test_seed is None:
            return fresh_key()
        return test_mode_key(self.test_seed, label)

    def agree_keys(self, subsets) -> dict:
        """Agree one key per subset containing this party. Returns
        {frozenset(subset): Prg}."""
        me = self.party_id
        mine = sorted({tuple(sorted(s)) for s in subsets if me in s})
        outgoing = {}
        keys = {}
        incoming = {}
        for subset in mine:
            leader = subset[0]
            if leader == me:
                key = self._new_key("shared/" + ",".join(map(str, subset)))
                keys[subset] = key
                for p in subset[1:]:
                    outgoing.setdefault(p, []).append(key)
            else:
                incoming.setdefault(leader, []).append(subset)
        peers = [p for p in range(self.n_parties) if p != me]
        with self.ledger.op("setup"):
            # one message to every peer (its keys, or empty): the set-up is a
            # barrier, so the parties leave it, and start their programs, together
            for p in peers:
                self.net.send(p, b"".join(outgoing.get(p, [])))
            for p in peers:
                subs = incoming.get(p, [])
                blob = self.net.recv_bytes(p, KEY_BYTES * len(subs))
                for j, subset in enumerate(subs):
                    keys[subset] = bytes(blob[j * KEY_BYTES:(j + 1) * KEY_BYTES])
        return {frozenset(s): Prg(k, name="prg" + "".join(map(str, s))) for s, k in keys.items()}
