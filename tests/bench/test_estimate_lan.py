"""Predicted LAN (loopback) time within 25% of the measured, by default.

On a shared 2-core machine the speed of the moment moves by up to 2x within
seconds (other machines' jobs), so a time model fitted at another hour
cannot be held to 25% on this machine's loopback. The check therefore
compares ratios measured in the same session (bench.validate_estimate.
same_session): calibrations restricted to the ops and sizes the workload
uses (bench.calibrate.calibrate_workload: the code of `safenet bench
calibrate`, 1-3 s) alternate with real runs, each run predicted by the
unchanged estimate (dry run of the real program + a + b*n + c*flops per op,
summed) from the calibrations just before and just after it, median over
rounds. So the check tests the model (which ops a run consists of, the
per-op formula with its bits/width scalings, the summation over ops and
phases), not the freshness of a stored calibration.

Workload: monolithic training in the steady state the model describes (many
SGD steps of the same ops on small data; bench.validate_estimate.STEADY),
parties as processes over TCP (the CLI's default), rep3 and rep4, logreg
and mlp: rep3 logreg is dominated by softmax (many rounds), rep3 mlp adds
ReLU (ltz_mul) and a second layer; rep4 adds the 4-party actively secure
ops (trunc, matmul_many, digests), whose per-op costs differ most from
rep3. What the model leaves out is kept small by the choice of workload
(docs/cost_model.md section 3): the first touch of a fresh party process's
memory (30-60 ms a run) and the local work between ops (2-4%).

About 50 s on an idle 2-core machine (rep3 ~22 s, rep4 ~28 s), 60-80 s
when another process keeps one core busy.
"""
import numpy as np
import pytest

import protocols
from bench.validate_estimate import same_session

MODELS = ("logreg", "mlp")
TOLERANCE = 0.25


def _protocols():
    out = [pytest.param("rep3")]
    ok = hasattr(protocols.protocol_class("rep4"), "ltz")
    out.append(pytest.param("rep4", marks=pytest.mark.skipif(
        not ok, reason="Rep4 has no comparisons (ltz) yet: the SafeNet programs cannot run")))
    return out


@pytest.mark.parametrize("protocol", _protocols())
def test_lan_time_within_25_percent(protocol):
    """A warm-up run of each model, then 3 rounds (one run of each model
    between two calibrations), 2 more at most while a model's median ratio
    is off by more than 25%; both models share each calibration (their ops
    overlap)."""
    doc = same_session(protocol, MODELS, rounds=3, max_rounds=5, tolerance=TOLERANCE)
    report = "; ".join(
        f"{r['model']} ({r['steps']} steps): predicted/measured "
        f"{' '.join(f'{x:.2f}' for x in r['ratios'])} (median {r['ratio']:.2f}), measured s "
        f"{' '.join(f'{x:.2f}' for x in r['measured_s'])}" for r in doc["rows"])
    print(f"{protocol}: {report}; calibrations {np.round(doc['calibration_s'], 1).tolist()} s, "
          f"{doc['seconds']:.0f} s in all")
    for r in doc["rows"]:
        assert abs(r["ratio"] - 1) <= TOLERANCE, f"{protocol} {r['model']}: {report}"


def test_workload_calibration_covers_the_workload():
    """calibrate_workload measures every op the workload prices from a
    calibration, at grid sizes spanning the workload's sizes."""
    from bench.estimate import dry_monolithic, shapes_for
    from bench.calibrate import _features, _specs, workload_sizes
    from bench.timemodel import MATRIX_OPS
    from bench.validate_estimate import STEADY
    cls = protocols.protocol_class("rep3")
    specs = {s.name: s for s in _specs(cls)}
    for model in MODELS:
        ops = dry_monolithic(shapes_for(model=model, **STEADY["rep3"]), "rep3").ops(
            stages=("program",))
        sizes = workload_sizes("rep3", ops)
        assert {o.name for o in ops if o.name in specs} <= set(sizes)
        for name, grid in sizes.items():
            assert len(grid) >= (3 if name in MATRIX_OPS else 2), name
            at = [_features(specs[name], g)[1 if name in MATRIX_OPS else 0] for g in grid]
            want = [o.flops if name in MATRIX_OPS else o.elements for o in ops if o.name == name
                    and not o.variant and not (o.width and name in ("argmax", "softmax"))]
            full = [_features(specs[name], g)[0] for g in specs[name].sizes]
            if want and name not in MATRIX_OPS:      # inside the grid's range: spanned
                assert at[0] <= max(min(want), full[0]), (name, at, want)
                assert at[-1] >= min(max(want), full[-1]), (name, at, want)
