"""The owners -> parties hand-off (ensemble.bundle, `safenet owners`,
`train/compare --uploads`): files round-trip without pickle; party i's file
holds only party i's shares; a run from the files equals the in-process
run; a multi-host run (one OS process per party) reports the same labels
and costs; files of another protocol or another owners' run are refused
with an error that says so."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ensemble.bundle import BundleError, load_tree, read_plan, save_tree, write_plan
from ensemble.pipeline import ensemble_plan, prepare, run_ensemble_plan
from mpcore.ring import DTYPE

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           PYTHONUNBUFFERED="1")
SMALL = ["--owners", "3", "--n", "300", "--epochs", "5", "--model", "logreg"]


def _cli(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "bench.cli", "--quiet", *argv], env=ENV, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# ---- the file format ---------------------------------------------------------------------------
_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 62, 2 ** 62), st.text(max_size=5),
                  st.floats(allow_nan=False), st.binary(max_size=20),
                  st.lists(st.integers(0, 2 ** 64 - 1), max_size=6).map(
                      lambda v: np.array(v, dtype=DTYPE)))
_tree = st.recursive(_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.tuples(kids, kids),
    st.dictionaries(st.text(max_size=4), kids, max_size=3)), max_leaves=12)


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


@settings(max_examples=40, deadline=None)
@given(tree=_tree)
def test_tree_round_trips(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("tree") / "t.npz"
    save_tree(path, tree)
    assert _same(load_tree(path), tree)


def test_object_arrays_are_refused_on_both_sides(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        save_tree(tmp_path / "o.npz", {"x": np.array([object()], dtype=object)})
    # a pickled object array planted in a file is not loaded (allow_pickle=False)
    bad = tmp_path / "bad.npz"
    skeleton = json.dumps({"format": "safenet-bundle/1", "tree": {"__array__": 0}})
    np.savez(bad, skeleton=np.frombuffer(skeleton.encode(), np.uint8),
             a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(BundleError, match="not a readable hand-off file"):
        load_tree(bad)


def test_missing_and_foreign_files_are_named(tmp_path):
    with pytest.raises(BundleError, match="no such file.*safenet owners"):
        load_tree(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(BundleError, match="not a readable hand-off file"):
        load_tree(tmp_path / "other.npz")


# ---- plans: who gets what ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_setting():
    return prepare("digits", owners=3, n=300, epochs=5, model="logreg")


@pytest.mark.parametrize("protocol", ["rep3", "rep4"])
def test_each_party_file_holds_only_its_own_inputs(tmp_path, small_setting, protocol):
    plan = ensemble_plan(small_setting, protocol)
    write_plan(tmp_path, plan)
    n = plan.n_parties
    for i in range(n):
        mine = read_plan(tmp_path, "ensemble", protocol, [i], n)
        assert all(mine.inputs[j] is None for j in range(n) if j != i)
        assert _same(mine.inputs[i], tuple(plan.inputs[i]))
        assert (mine.evaluation != {}) == (i == 0)     # scoring data only where party 0 runs
    # the masked slot (data) of an owner's upload goes to some parties, never
    # to all: the others derive their slots from seeds
    owner0 = [plan.inputs[i][0][0] for i in range(n)]
    data_holders = [i for i in range(n) if any(k == "data" for k, _ in owner0[i]["slots"])]
    assert 0 < len(data_holders) < n


def test_run_from_files_equals_the_direct_run(tmp_path, small_setting):
    plan = ensemble_plan(small_setting, "rep3")
    direct = run_ensemble_plan(plan)
    write_plan(tmp_path, plan)
    loaded = read_plan(tmp_path, "ensemble", "rep3", range(3), 3)
    again = run_ensemble_plan(loaded)
    for key in ("accuracy", "models_kept", "certified_fraction", "mismatched_predictions"):
        assert again[key] == direct[key], key
    assert again["total"]["bytes_sent"] == direct["total"]["bytes_sent"]
    assert again["total"]["rounds"] == direct["total"]["rounds"]


def test_files_of_another_run_or_protocol_are_refused(tmp_path, small_setting):
    write_plan(tmp_path / "a", ensemble_plan(small_setting, "rep3"))
    write_plan(tmp_path / "b", ensemble_plan(small_setting, "rep3"))
    with pytest.raises(BundleError, match="--protocol rep3, not rep4"):
        read_plan(tmp_path / "a", "ensemble", "rep4", [0], 4)
    (tmp_path / "a" / "monolithic").mkdir()
    (tmp_path / "a" / "ensemble" / "party0.npz").rename(tmp_path / "a" / "monolithic" / "party0.npz")
    with pytest.raises(BundleError, match="--mode ensemble, not monolithic"):
        read_plan(tmp_path / "a", "monolithic", "rep3", [0], 3)
    (tmp_path / "b" / "ensemble" / "party1.npz").replace(tmp_path / "a" / "ensemble" / "party1.npz")
    with pytest.raises(BundleError, match="another `safenet owners` run"):
        read_plan(tmp_path / "a", "ensemble", "rep3", [1, 2], 3)


# ---- the command line --------------------------------------------------------------------------
def test_cli_owners_then_compare_from_files(tmp_path):
    r = _cli("owners", "--out", str(tmp_path / "ho"), *SMALL)
    assert r.returncode == 0, r.stderr
    r = _cli("compare", "--uploads", str(tmp_path / "ho"), "--transport", "memory",
             "--json", str(tmp_path / "c.json"))
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["ensemble"]["predictions_match_cleartext"] is True
    assert abs(doc["monolithic"]["accuracy"] - doc["monolithic"]["cleartext_accuracy"]) <= 0.02
    assert doc["ratios"]["bytes"] > 1
    r = _cli("compare", "--uploads", str(tmp_path / "ho"), "--protocol", "rep4")
    assert r.returncode == 2 and "made for --protocol rep3, not rep4" in r.stderr
    r = _cli("compare", "--uploads", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "no such file" in r.stderr


def _party_run(tmp_path, n, command, timeout=240, timeout_option=()):
    from mpcore.hosts import free_local_ports, write_hosts
    cfg = tmp_path / "parties.toml"
    write_hosts(cfg, [("127.0.0.1", p) for p in free_local_ports(n)], None)
    procs = [subprocess.Popen([sys.executable, "-m", "bench.cli", "--quiet", "party",
                               "--config", str(cfg), "--id", str(i), "--insecure",
                               *timeout_option, *command,
                               "--json", str(tmp_path / "p{id}.json")],
                              env=ENV, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(n)]
    outs = [p.communicate(timeout=timeout) for p in procs]
    return [p.returncode for p in procs], outs


def test_party_needs_uploads(tmp_path):
    codes, outs = _party_run(tmp_path, 3, ["train", "--mode", "ensemble", *SMALL], timeout=60)
    assert codes == [2, 2, 2]
    assert "needs --uploads DIR" in outs[0][1] and "safenet owners" in outs[0][1]


@pytest.mark.parametrize("protocol", ["rep3", "rep4"])
def test_compare_with_every_party_a_separate_host_process(tmp_path, protocol):
    ho = tmp_path / "ho"
    r = _cli("owners", "--out", str(ho), "--protocol", protocol, *SMALL)
    assert r.returncode == 0, r.stderr
    local = _cli("compare", "--uploads", str(ho), "--protocol", protocol, "--transport", "memory",
                 "--json", str(tmp_path / "local.json"))
    assert local.returncode == 0, local.stderr
    n = 3 if protocol == "rep3" else 4
    codes, outs = _party_run(tmp_path, n, ["compare", "--uploads", str(ho), "--protocol", protocol],
                             timeout_option=["--timeout", "120"])
    assert codes == [0] * n, [o[1][-2000:] for o in outs]
    want = json.loads((tmp_path / "local.json").read_text())
    got = json.loads((tmp_path / "p0.json").read_text())
    for mode in ("ensemble", "monolithic"):
        g, w = got[mode], want[mode]
        if mode == "ensemble":
            assert g["accuracy"] == w["accuracy"] and g["mismatched_predictions"] == 0
        else:   # probabilistic truncation: fresh randomness per run, a few labels may differ
            assert abs(g["accuracy"] - g["cleartext_accuracy"]) <= 0.02
        assert g["total"]["bytes_sent"] == w["total"]["bytes_sent"], mode
        assert g["total"]["rounds"] == w["total"]["rounds"], mode
        assert g["party"] == 0 and g["complete"] is True
    assert got["ratios"]["bytes"] == pytest.approx(want["ratios"]["bytes"])
    other = json.loads((tmp_path / "p1.json").read_text())["ensemble"]
    assert other["party"] == 1 and other["complete"] is False and "accuracy" not in other
    assert other["total"]["bytes_sent"][1] == want["ensemble"]["total"]["bytes_sent"][1]
    assert other["total"]["bytes_sent"][0] is None and len(other["labels"]) == got["ensemble"]["n_queries"]
