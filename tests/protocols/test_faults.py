"""Fault injection against rep4 (mpcore.faults): one party deviates at one
DATA frame (flip, random, drop, duplicate, delay) inside one op; every
flip / random / drop / delay must be detected (every honest party aborts,
or, for a deviation in the very last round, some abort and the others hold
the correct value), no honest party may return a wrong value, nothing may
hang.

By default the campaign tries the first and last frame each party sends in
each op; SAFENET_FULL_FAULTS=1 tries every frame."""
import os

import pytest

import protocols
from mpcore import faults
from mpcore.errors import CheatingDetected
from protocols.testing import fault_suite

FULL = os.environ.get("SAFENET_FULL_FAULTS") == "1"
OPS = fault_suite.OPS
TIMEOUT = fault_suite.TIMEOUT_S
program = fault_suite.campaign_program     # the library's standard campaign program


def runner(check=True, transport="memory"):
    return fault_suite.make_runner("rep4", transport=transport, options={"check": check})


def test_campaign():
    camp = fault_suite.run_campaign("rep4", quick=not FULL)
    print("\n" + camp.report())
    print("DATA frames per party per op (clean run):", camp.frames)
    counts = camp.counts()
    assert sum(counts.values()) == len(camp.trials) > 0
    assert not camp.failures(), camp.report()
    assert counts["wrong"] == counts["hang"] == counts["crash"] == counts["not_fired"] == 0
    for kind in faults.DETECT_REQUIRED:
        c = camp.counts("kind")[kind]
        assert c["aborted"] + c["selective"] == sum(c.values()), (kind, c)
    # a deviation before the last round makes EVERY honest party abort
    by_op = camp.counts("op")
    for op_name in ("setup", "key_check", "input", "mul", "matmul", "trunc"):
        assert set(by_op[op_name]) <= {"aborted"}, (op_name, by_op[op_name])
    # reveal: frames 0-2 are the check round (3 digests), 3-5 the reveal round
    for t in camp.trials:
        if t.fault.op == "reveal" and t.fault.index < 3 and t.fault.kind in faults.DETECT_REQUIRED:
            assert t.outcome == "aborted", t


def _one(fault, check=True, transport="memory"):
    return faults.run_trial(runner(check, transport), fault,
                            runner(check, transport)(raise_on_error=True).values, 4, TIMEOUT)


def test_jmp_flip_names_the_link():
    # mul: party 0 sends a_0 - m and e13 - m to party 3; party 1 and party 2
    # back them up, so party 3's check fails on link 1->3 or 2->3
    fault = faults.Fault(0, 0, "flip", op="mul", seed=1)
    result = protocols.run(program, "rep4", test_seed=11, net_wrapper=fault.wrapper(),
                           raise_on_error=False, timeout=TIMEOUT)
    assert fault.fired[0] == 3
    err = result.errors[3]
    assert isinstance(err, CheatingDetected), result.errors
    assert "link 1->3" in str(err) or "link 2->3" in str(err)
    assert all(e is not None for e in result.errors)


def test_inconsistent_key_leader_is_caught():
    """Party 0 (leader of three key subsets) gives party 2 a different key."""
    fault = faults.Fault(0, 1, "flip", op="setup")
    result = protocols.run(program, "rep4", test_seed=11, net_wrapper=fault.wrapper(),
                           raise_on_error=False, timeout=TIMEOUT)
    assert fault.fired[0] == 2
    assert any(isinstance(e, CheatingDetected) and "key agreement" in str(e)
               for e in result.errors), result.errors
    assert all(e is not None for e in result.errors)


def test_drop_is_noticed():
    # party 1 waits for party 2's round-2 trunc message: it times out, or
    # (party 2 having moved on) gets party 2's next frame for the wrong op
    fault = faults.Fault(2, 0, "drop", op="trunc")
    trial = _one(fault)
    assert trial.outcome == "aborted", trial
    assert any(("PeerTimeout" in e or "ProtocolDesync" in e) and "party 2" in e
               for e in trial.errors if e)


def test_faults_over_tcp():
    for kind in ("flip", "drop"):
        trial = _one(faults.Fault(1, 0, kind, op="matmul"), transport="tcp")
        assert trial.outcome == "aborted", trial


def test_semi_honest_mode_returns_wrong_values():
    """The harness sees the difference: without checks a flip goes through."""
    trial = _one(faults.Fault(0, 0, "flip", op="mul", seed=3), check=False)
    assert trial.outcome == "wrong", trial


def test_harness_counts_only_data_frames_inside_the_op():
    clean = runner()(raise_on_error=True)
    frames = faults.frames_sent(clean.merged, "mul", 4)
    assert frames == [1, 2, 1, 1]           # P0's two values for P3 share one frame
    assert faults.frames_sent(clean.merged, "reveal", 4) == [6, 6, 6, 6]  # check + reveal
    # trunc: P0 c2 and the JMP to P3, P1 c3, P2 its JMP to P1; the empty pings
    # 2->3, 3->2 (round 1) and 3->1 (round 2) are frames too, and faults in
    # them are caught like any other (a 1-byte payload is a ProtocolDesync)
    assert faults.frames_sent(clean.merged, "trunc", 4) == [2, 1, 2, 2]
    assert faults.select_indices(6, "ends") == [0, 5]
    assert faults.select_indices(6, "all") == list(range(6))
    assert faults.select_indices(0, "ends") == []
    late = faults.Fault(1, 2, "flip", op="mul")     # party 1 sends only 2 frames in mul
    trial = faults.run_trial(runner(), late, clean.values, 4, TIMEOUT)
    assert trial.outcome == "not_fired"
    with pytest.raises(ValueError):
        faults.Fault(0, 0, "explode")
