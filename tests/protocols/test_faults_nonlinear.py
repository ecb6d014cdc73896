"""Fault injection against rep4's comparisons (mpcore.faults): one party
deviates at one DATA frame (flip, random, drop, duplicate, delay) inside
ltz, eqz, relu, argmax or the final reveal of
`protocols.testing.fault_suite.compare_program`; every flip / random /
drop / delay must be detected (every honest party aborts; only in the last
round of the final reveal may some honest parties hold the correct value
instead), no honest party may return a wrong value, nothing may hang.

By default the campaign tries the first and last frame each party sends in
each op, plus every frame of the first (top-level) ltz with flip and
random; SAFENET_FULL_FAULTS=1 tries every frame of every op."""
import os

import numpy as np

import protocols
from mpcore import faults
from protocols.testing import fault_suite

FULL = os.environ.get("SAFENET_FULL_FAULTS") == "1"
OPS = fault_suite.COMPARE_OPS
TIMEOUT = fault_suite.TIMEOUT_S
LTZ_FRAMES = 7 * 3          # 7 rounds, one frame to each of the 3 peers per round


def runner(check=True, transport="memory"):
    return fault_suite.make_runner("rep4", fault_suite.compare_program, transport=transport,
                                   options={"check": check})


def _assert_secure(camp, last_round_ops=("reveal",)):
    counts = camp.counts()
    assert sum(counts.values()) == len(camp.trials) > 0
    assert not camp.failures(), camp.report()
    assert counts["wrong"] == counts["hang"] == counts["crash"] == counts["not_fired"] == 0
    for kind, c in camp.counts("kind").items():
        if kind in faults.DETECT_REQUIRED:
            assert c["aborted"] + c["selective"] == sum(c.values()), (kind, c)
    for op_name, c in camp.counts("op").items():
        if op_name not in last_round_ops:     # a deviation before the last round: all abort
            assert set(c) <= {"aborted"}, (op_name, c)


def test_clean_run_is_correct():
    res = runner()(raise_on_error=True)
    x, y, m = (a.view(np.int64) for a in (fault_suite.CX, fault_suite.CY, fault_suite.CM))
    want = np.concatenate([(x < 0), (x == y), np.maximum(y, 0), m.argmax(axis=-1)]).astype(
        np.int64).view(np.uint64)
    for v in res.values:
        assert np.array_equal(v, want)


def test_campaign_comparisons():
    camp = fault_suite.run_campaign("rep4", quick=not FULL, ops=OPS,
                                    program=fault_suite.compare_program)
    print("\n" + camp.report())
    print("DATA frames per party per op (clean run):", camp.frames)
    # the top-level ltz, and those nested in protocols.nonlinear's functions
    assert all(f >= LTZ_FRAMES and f % LTZ_FRAMES == 0 for f in camp.frames["ltz"])
    assert camp.frames["relu"] == [LTZ_FRAMES] * 4          # one fused ltz_mul
    _assert_secure(camp)


def test_every_frame_of_one_ltz():
    """Flip / randomize every frame of the first ltz (each party, each of
    its 21 frames: the pair vectors, the cross terms, the carry tree, the
    opening, and the empty frames of the all-to-all rounds)."""
    kinds = faults.KINDS if FULL else ("flip", "random")
    camp = faults.campaign(runner(), ["ltz"], 4, kinds=kinds,
                           indices=lambda count: range(LTZ_FRAMES), timeout=TIMEOUT)
    print("\n" + camp.report())
    assert len(camp.trials) == 4 * LTZ_FRAMES * len(kinds)
    _assert_secure(camp, last_round_ops=())


def test_faults_over_tcp():
    clean = runner(transport="tcp")(raise_on_error=True).values
    for party, index, kind in ((0, 0, "flip"), (2, LTZ_FRAMES - 3, "flip"), (3, 5, "drop")):
        trial = faults.run_trial(runner(transport="tcp"), faults.Fault(party, index, kind, op="ltz"),
                                 clean, 4, TIMEOUT)
        assert trial.outcome == "aborted", trial


def test_semi_honest_mode_returns_wrong_values():
    """The harness sees the difference: without checks a flip of the
    opening goes through."""
    clean = runner(check=False)(raise_on_error=True).values
    # the opening is the last round of ltz; party 1 sends slot 0 of d (one
    # word, 8 bits used) to party 0 in its first frame of that round; seed 2
    # flips one of the used bits
    trial = faults.run_trial(runner(check=False),
                             faults.Fault(1, LTZ_FRAMES - 3, "flip", op="ltz", seed=2),
                             clean, 4, TIMEOUT)
    assert trial.outcome == "wrong", trial
    result = protocols.run(fault_suite.compare_program, "rep4", test_seed=11,
                           options={"check": False})
    assert not any(m.name == "check" for m in result.merged)
