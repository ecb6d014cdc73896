"""Fault injection: make one party deviate at one chosen DATA message, and
run campaigns of such trials. Imports channels, errors, ledger (and the
standard library); it never imports protocols/: a campaign is given a
`runner` that runs the program.

One fault
    fault = Fault(party=2, index=0, kind="flip", op="mul")
    result = runner(net_wrapper=fault.wrapper(), raise_on_error=False)
Party `party` deviates at the `index`-th DATA frame it sends (0-based),
counted over the whole run, or only among the frames it sends while an op
named `op` is open (at any nesting level: "check" inside "reveal" counts
for "reveal"). Kinds:
    flip       flip one bit of the payload (bit chosen by `seed`)
    random     replace the payload by random bytes of the same length
    drop       do not send the frame
    duplicate  send the frame twice
    delay      sleep past the receiver's timeout (`delay_s`, default
               network timeout + 0.5 s), then send it
(An empty payload cannot be flipped or randomized: one random byte is sent
instead.) The wrapper overrides the network instance's `_transmit` for
KIND_DATA frames only; ABORT and CLOSE frames pass untouched, and the
ledger still counts the frame as the party meant to send it.

Campaign
    camp = campaign(runner, ops=["mul", "reveal"], n_parties=4)
First a clean run gives the expected value of every party and, from its
ledger (`msgs_sent` of the op records named op, outermost occurrence),
how many DATA frames every party sends inside each op. Then one trial per
op x party x selected message index x kind, each with a short timeout,
several trials at a time on a thread pool. Each trial is classified by
what the HONEST parties (all but the deviating one) did:
    aborted     every honest party raised an engine error (CheatingDetected,
                PeerAborted, PeerTimeout, PeerLost, ProtocolDesync) and none
                returned a value;
    selective   some honest parties raised an engine error, the others
                returned the CORRECT value. Security with abort allows this;
                it can only happen when the deviation is in the last round
                in which the honest parties talk (no later message can carry
                the abort to the others);
    undetected  every honest party returned the correct value and none
                raised: acceptable only for a harmless deviation (e.g. a
                duplicate of the last frame on a link, never read);
    wrong       some honest party returned a value different from the clean
                run's: a security failure;
    crash       some honest party raised something other than an engine
                error: a bug;
    hang        the run missed its deadline;
    not_fired   the fault never triggered (index beyond the frames sent).
An actively secure protocol must give 0 wrong, crash and hang, and detect
(aborted or selective) every flip, random, drop and delay.
"""
import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .channels import KIND_DATA
from .errors import CheatingDetected, PartyError, PeerAborted, PeerLost, PeerTimeout, ProtocolDesync

KINDS = ("flip", "random", "drop", "duplicate", "delay")
DETECT_REQUIRED = ("flip", "random", "drop", "delay")
ENGINE_ERRORS = (CheatingDetected, PeerAborted, PeerTimeout, PeerLost, ProtocolDesync)
ENGINE_ERROR_NAMES = tuple(e.__name__ for e in ENGINE_ERRORS)
OUTCOMES = ("aborted", "selective", "undetected", "wrong", "crash", "hang", "not_fired")


@dataclass
class Fault:
    party: int
    index: int
    kind: str
    op: str = None
    seed: int = 0
    delay_s: float = None
    fired: tuple = None      # (peer, op path, payload bytes) once injected

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {KINDS}")

    def describe(self):
        where = f"within op {self.op!r}" if self.op else "in the run"
        return f"party {self.party} {self.kind}s DATA frame #{self.index} {where}"

    def wrapper(self):
        """A launcher `net_wrapper(party_id, network)` applying this fault."""
        def wrap(party_id, network):
            return inject(network, self) if party_id == self.party else network
        return wrap


def inject(network, fault: Fault):
    """Make `network` (one party's endpoint) apply `fault`. Returns it."""
    original = network._transmit
    rng = random.Random(fault.seed)
    state = {"count": 0}

    def transmit(peer, kind, stamp, seq, view):
        if kind != KIND_DATA or fault.fired is not None:
            return original(peer, kind, stamp, seq, view)
        op_path = network.ledger.current_op
        if fault.op is not None and fault.op not in op_path.split("/"):
            return original(peer, kind, stamp, seq, view)
        index = state["count"]
        state["count"] += 1
        if index != fault.index:
            return original(peer, kind, stamp, seq, view)
        data = bytes(view)
        fault.fired = (peer, op_path, len(data))
        if fault.kind == "drop":
            return None
        if fault.kind == "duplicate":
            original(peer, kind, stamp, seq, memoryview(data))
            return original(peer, kind, stamp, seq, memoryview(data))
        if fault.kind == "delay":
            time.sleep(fault.delay_s if fault.delay_s is not None else network.timeout + 0.5)
            return original(peer, kind, stamp, seq, memoryview(data))
        if not data:
            data = rng.randbytes(1)
        elif fault.kind == "flip":
            buf = bytearray(data)
            bit = rng.randrange(8 * len(buf))
            buf[bit // 8] ^= 1 << (bit % 8)
            data = bytes(buf)
        else:  # random
            data = rng.randbytes(len(data))
        return original(peer, kind, stamp, seq, memoryview(data))

    network._transmit = transmit
    return network


# ---- classification -------------------------------------------------------------
def values_equal(a, b):
    """Deep equality of program results (arrays, tuples, lists, dicts, scalars)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _is_engine_error(exc):
    if isinstance(exc, ENGINE_ERRORS):
        return True
    return getattr(exc, "type_name", None) in ENGINE_ERROR_NAMES   # launcher RemoteError


def _is_deadline(exc):
    return (type(exc) is PartyError or getattr(exc, "type_name", None) == "PartyError") \
        and "deadline" in str(exc)


def classify(result, fault: Fault, expected, n_parties, elapsed=None, hang_s=None):
    """The outcome of one trial (see the module docstring)."""
    if fault.fired is None:
        return "not_fired"
    honest = [p for p in range(n_parties) if p != fault.party]
    errors = [result.errors[p] for p in honest]
    if any(e is not None and _is_deadline(e) for e in errors) or (
            hang_s is not None and elapsed is not None and elapsed > hang_s):
        return "hang"
    if any(e is not None and not _is_engine_error(e) for e in errors):
        return "crash"
    finished = [p for p in honest if result.errors[p] is None]
    if any(not values_equal(result.values[p], expected[p]) for p in finished):
        return "wrong"
    if not finished:
        return "aborted"
    if len(finished) < len(honest):
        return "selective"
    return "undetected"


# ---- campaigns ---------------------------------------------------------------------
@dataclass
class Trial:
    fault: Fault
    outcome: str
    seconds: float
    errors: list


@dataclass
class Campaign:
    trials: list = field(default_factory=list)
    frames: dict = field(default_factory=dict)   # op -> DATA frames sent per party (clean run)

    def counts(self, by=None):
        """Counter of outcomes, overall or keyed by 'kind' / 'op' / 'party'."""
        if by is None:
            return Counter(t.outcome for t in self.trials)
        out = {}
        for t in self.trials:
            out.setdefault(getattr(t.fault, by), Counter())[t.outcome] += 1
        return out

    def failures(self):
        """Trials that break active security: wrong, crash, hang, not_fired,
        or an undetected flip / random / drop / delay."""
        return [t for t in self.trials
                if t.outcome in ("wrong", "crash", "hang", "not_fired")
                or (t.outcome == "undetected" and t.fault.kind in DETECT_REQUIRED)]

    def report(self):
        lines = [f"{len(self.trials)} trials: " + _fmt(self.counts())]
        for kind, c in sorted(self.counts("kind").items()):
            lines.append(f"  {kind:9s} " + _fmt(c))
        for op_name, c in sorted(self.counts("op").items(), key=lambda kv: str(kv[0])):
            lines.append(f"  op {op_name!s:8s} " + _fmt(c))
        for t in self.failures()[:20]:
            lines.append(f"  FAILURE {t.outcome}: {t.fault.describe()} fired={t.fault.fired} "
                         f"errors={t.errors}")
        return "\n".join(lines)


def _fmt(counter):
    return ", ".join(f"{k}={counter[k]}" for k in OUTCOMES if counter.get(k))


def frames_sent(merged, op_name, n_parties):
    """DATA frames each party sent inside ops named `op_name` (outermost
    occurrences), from a merged ledger (`RunResult.merged`)."""
    counts = [0] * n_parties
    for m in merged:
        if m.name == op_name and op_name not in m.path:
            for p in range(n_parties):
                counts[p] += m.msgs_sent[p]
    return counts


def select_indices(count, mode):
    """Message indices to try among `count`: "all", "ends" (first and last),
    an int k (k indices spread evenly) or a callable count -> indices."""
    if count <= 0:
        return []
    if mode == "all":
        return list(range(count))
    if mode == "ends":
        return sorted({0, count - 1})
    if isinstance(mode, int):
        return sorted({int(round(i * (count - 1) / max(1, mode - 1))) for i in range(min(mode, count))})
    return list(mode(count))


def run_trial(runner, fault, expected, n_parties, timeout):
    t0 = time.perf_counter()
    result = runner(net_wrapper=fault.wrapper(), timeout=timeout, raise_on_error=False)
    elapsed = time.perf_counter() - t0
    outcome = classify(result, fault, expected, n_parties, elapsed, hang_s=2 * timeout + 30)
    errors = [None if e is None else f"{getattr(e, 'type_name', type(e).__name__)}: {e}"[:300]
              for e in result.errors]
    return Trial(fault, outcome, elapsed, errors)


def campaign(runner, ops, n_parties, kinds=KINDS, indices="ends", parties=None,
             timeout=2.0, workers=None, seed=0):
    """Run the fault campaign described in the module docstring.

    runner(**kw) must run the program (always the same, deterministic given
    its test seed) and return the launcher's RunResult; it receives
    net_wrapper, timeout and raise_on_error. `timeout` is the channel
    timeout of faulty trials (drop and delay wait for it)."""
    clean = runner(timeout=max(30.0, timeout), raise_on_error=True)
    expected = clean.values
    merged = clean.merged
    camp = Campaign()
    faults = []
    for op_name in ops:
        camp.frames[op_name] = frames_sent(merged, op_name, n_parties)
        for party in (parties if parties is not None else range(n_parties)):
            for index in select_indices(camp.frames[op_name][party], indices):
                for kind in kinds:
                    faults.append(Fault(party, index, kind, op=op_name,
                                        seed=seed + len(faults)))
    workers = workers or min(8, max(2, (os.cpu_count() or 2) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        camp.trials = list(pool.map(
            lambda f: run_trial(runner, f, expected, n_parties, timeout), faults))
    return camp
