"""Per-party communication ledger. Imports nothing outside the standard library.

The channel layer calls `on_send` / `on_recv` for every message of every
transport, so in-memory runs are counted exactly like TCP runs.

Counting rules
  * bytes: payload bytes (what the cost table counts: 8 per ring element,
    digests included); `wire_bytes` adds the 24-byte frame header.
  * ops: a protocol op opens an op scope (`with ledger.op("mul", declared)`).
    Op scopes nest (fxmul contains mul and trunc). A top-level op gets a
    sequence number that every message sent inside it carries, so a message
    that arrives in the wrong op is caught (ProtocolDesync).
  * rounds: Lamport depth inside a top-level op. A message sent at local
    depth c carries stamp c+1; receiving stamp s raises the depth to
    max(depth, s). A party's rounds in an op are the depth it reached (also
    counting stamps it sent). The op's rounds are the maximum over parties
    (`merge`), and a sequence of ops costs the sum of its ops' rounds.
  * label scopes (`with ledger.scope("filter")`) group ops into phases.
`begin(name, declared)` / `end(record)` open and close an op scope (the
protocols' op decorator calls them for every op: no generator, slotted
records with plain per-peer dicts); `with ledger.op(...)` wraps them.
"""
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter as _now
from typing import Optional


@dataclass
class Cost:
    """Declared cost of one op: rounds, and ring elements sent by each party.
    `digest_bytes` counts hash digests (active security) per party."""
    rounds: int
    elements_sent: tuple
    digest_bytes: tuple = None

    def bytes_sent(self, element_bytes=8):
        d = self.digest_bytes or (0,) * len(self.elements_sent)
        return tuple(e * element_bytes + b for e, b in zip(self.elements_sent, d))

    def __add__(self, other):
        """Sequential composition."""
        da = self.digest_bytes or (0,) * len(self.elements_sent)
        db = other.digest_bytes or (0,) * len(other.elements_sent)
        dig = tuple(a + b for a, b in zip(da, db))
        return Cost(self.rounds + other.rounds,
                    tuple(a + b for a, b in zip(self.elements_sent, other.elements_sent)),
                    dig if any(dig) else None)


class OpRecord:
    """One op as one party saw it. Per-peer counters are dicts keyed by peer
    (plain dicts: the record is created for every op call, so it is kept
    cheap; `bytes_sent[p]` of a peer never messaged is absent, read it with
    .get(p, 0))."""
    __slots__ = ("name", "path", "seq", "depth", "declared", "bytes_sent", "bytes_recv",
                 "msgs_sent", "msgs_recv", "wire_bytes_sent", "start_depth", "rounds", "seconds",
                 "_t0")

    def __init__(self, name, path, seq, depth, declared=None, start_depth=0):
        self.name, self.path, self.seq, self.depth = name, path, seq, depth
        self.declared = declared
        self.bytes_sent, self.bytes_recv, self.msgs_sent, self.msgs_recv = {}, {}, {}, {}
        self.wire_bytes_sent = 0
        self.start_depth = start_depth
        self.rounds = 0
        self.seconds = 0.0

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__ if k != "_t0"}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)

    def __repr__(self):
        return (f"OpRecord({self.name!r}, path={self.path}, seq={self.seq}, depth={self.depth}, "
                f"rounds={self.rounds}, bytes_sent={self.bytes_sent})")

    @property
    def total_sent(self):
        return sum(self.bytes_sent.values())

    @property
    def total_msgs_sent(self):
        return sum(self.msgs_sent.values())

    def to_dict(self):
        return {"name": self.name, "path": list(self.path), "seq": self.seq,
                "depth": self.depth, "rounds": self.rounds,
                "bytes_sent": dict(self.bytes_sent), "bytes_recv": dict(self.bytes_recv),
                "msgs_sent": dict(self.msgs_sent), "msgs_recv": dict(self.msgs_recv),
                "seconds": self.seconds}


class Ledger:
    def __init__(self, party_id: int, n_parties: int):
        self.party_id = party_id
        self.n_parties = n_parties
        self.records: list[OpRecord] = []
        self._labels: list[str] = []
        self._label_path = ()
        self._ops: list[OpRecord] = []
        self._seq = 0
        self._depth = 0          # deepest stamp received in the current top-level op
        self._sent_max = 0       # deepest stamp sent in the current top-level op
        self.total_bytes_sent = 0
        self.total_bytes_recv = 0
        self.total_upload_bytes = 0
        self.scope_seconds = {}

    # ---- scopes ---------------------------------------------------------
    @property
    def current_seq(self):
        return self._seq

    @property
    def current_op(self) -> str:
        return "/".join(r.name for r in self._ops) or "(no op)"

    @contextmanager
    def scope(self, label: str):
        """A label (phase) scope: groups the ops inside it; its wall time is
        added to `scope_seconds[path]`."""
        import time
        self._labels.append(label)
        path = tuple(self._labels)
        self._label_path = path
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.scope_seconds[path] = self.scope_seconds.get(path, 0.0) + time.perf_counter() - t0
            self._labels.pop()
            self._label_path = tuple(self._labels)

    def begin(self, name: str, declared: Optional[Cost] = None) -> OpRecord:
        """Open an op scope (the `op` context manager and the protocol `op`
        decorator use this pair); close it with `end`."""
        ops = self._ops
        if not ops:
            self._seq += 1
            self._depth = 0
            self._sent_max = 0
            path = self._label_path
        else:
            path = self._label_path + tuple(r.name for r in ops)
        rec = OpRecord(name, path, self._seq, len(ops), declared,
                       max(self._depth, self._sent_max))
        ops.append(rec)
        rec._t0 = _now()
        return rec

    def end(self, rec: OpRecord):
        rec.seconds = _now() - rec._t0
        rec.rounds = max(self._depth, self._sent_max) - rec.start_depth
        self._ops.pop()
        self.records.append(rec)

    @contextmanager
    def op(self, name: str, declared: Optional[Cost] = None):
        rec = self.begin(name, declared)
        try:
            yield rec
        finally:
            self.end(rec)

    # ---- called by the channel layer -------------------------------------
    def on_send(self, peer: int, nbytes: int, wire_bytes: int):
        """Account a message about to be sent; returns (op seq, round stamp)."""
        stamp = self._depth + 1
        for rec in self._ops:
            d = rec.bytes_sent
            d[peer] = d.get(peer, 0) + nbytes
            d = rec.msgs_sent
            d[peer] = d.get(peer, 0) + 1
            rec.wire_bytes_sent += wire_bytes
        if stamp > self._sent_max:
            self._sent_max = stamp
        self.total_bytes_sent += nbytes
        return self._seq, stamp

    def on_recv(self, peer: int, nbytes: int, stamp: int):
        for rec in self._ops:
            d = rec.bytes_recv
            d[peer] = d.get(peer, 0) + nbytes
            d = rec.msgs_recv
            d[peer] = d.get(peer, 0) + 1
        if stamp > self._depth:
            self._depth = stamp
        self.total_bytes_recv += nbytes

    @property
    def progress(self):
        """Rounds this party has taken part in within the current top-level op:
        the deepest stamp it received or sent."""
        return max(self._depth, self._sent_max)

    def on_upload(self, nbytes: int):
        """Data received from an external data owner (a client, not a party)."""
        for rec in self._ops:
            rec.bytes_recv["owner"] = rec.bytes_recv.get("owner", 0) + nbytes
        self.total_upload_bytes += nbytes

    # ---- summaries --------------------------------------------------------
    def top_level(self, prefix=()):
        prefix = tuple(prefix)
        return [r for r in self.records
                if r.depth == 0 and r.path[:len(prefix)] == prefix]


@dataclass
class MergedOp:
    """One op as all parties saw it."""
    name: str
    path: tuple
    seq: int
    depth: int
    rounds: int                 # max over parties
    bytes_sent: list            # per party
    msgs_sent: list             # per party
    seconds: float              # max over parties
    declared: Optional[Cost]

    @property
    def total_bytes(self):
        return sum(self.bytes_sent)


def merge(ledgers) -> list:
    """Combine the ledgers of all parties of one run, op by op."""
    ledgers = list(ledgers)
    n = len(ledgers)
    lengths = {len(l.records) for l in ledgers}
    if len(lengths) != 1:
        raise ValueError(f"ledgers disagree on the number of ops: "
                         f"{[len(l.records) for l in ledgers]} (did the parties run the same program?)")
    merged = []
    for recs in zip(*(l.records for l in ledgers)):
        first = recs[0]
        for r in recs[1:]:
            if (r.name, r.seq, r.depth) != (first.name, first.seq, first.depth):
                raise ValueError(f"ledgers disagree at op #{first.seq}: "
                                 f"{first.name!r} vs {r.name!r}")
        # rounds of the op: its critical path, the latest end minus the latest
        # start over parties (parties' clocks inside a top-level op may be
        # skewed by earlier nested ops that only some parties took part in)
        rounds = (max(r.start_depth + r.rounds for r in recs)
                  - max(r.start_depth for r in recs))
        merged.append(MergedOp(
            first.name, first.path, first.seq, first.depth, rounds,
            [r.total_sent for r in recs], [r.total_msgs_sent for r in recs],
            max(r.seconds for r in recs), first.declared))
    assert all(len(m.bytes_sent) == n for m in merged)
    return merged


def summarize(merged, prefix=()) -> dict:
    """Total cost of the top-level ops under a label prefix: rounds add up
    (ops run one after another), bytes and messages add up per party."""
    prefix = tuple(prefix)
    ops = [m for m in merged if m.depth == 0 and m.path[:len(prefix)] == prefix]
    n = len(merged[0].bytes_sent) if merged else 0
    bytes_sent = [sum(m.bytes_sent[p] for m in ops) for p in range(n)]
    return {"rounds": sum(m.rounds for m in ops),
            "bytes_sent": bytes_sent,
            "bytes_sent_total": sum(bytes_sent),
            "messages_sent": [sum(m.msgs_sent[p] for m in ops) for p in range(n)],
            "ops": len(ops)}
