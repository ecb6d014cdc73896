"""SafeNet inside MPC against the cleartext SafeNet (the oracle): same
filter decisions, same votes, same labels, on every test point."""
import numpy as np
import pytest

import protocols
from ensemble import cleartext
from ensemble.pipeline import prepare, run_ensemble

SECURE = [p for p in ("rep3", "rep4") if hasattr(protocols.protocol_class(p), "ltz")]


@pytest.fixture(scope="module")
def small_setting():
    # digits, 4 owners, 2 of them backdoored, MLP: small enough for a fast test
    return prepare("digits", owners=4, poisoned=2, attack="backdoor", model="mlp",
                   epochs=5, hidden=(16,), seed=1)


@pytest.mark.parametrize("protocol", SECURE)
def test_secure_ensemble_equals_cleartext(small_setting, protocol):
    r = run_ensemble(small_setting, protocol, reveal=("labels", "votes", "kept", "filter"))
    assert r["predictions_match_cleartext"] and r["mismatched_predictions"] == 0
    assert r["filter"] == r["cleartext_filter"]
    assert r["models_kept"] == r["cleartext_models_kept"] == sum(r["filter"])
    assert r["accuracy"] == pytest.approx(r["cleartext_accuracy"])
    assert r["attack_success"] == pytest.approx(r["cleartext_attack_success"])
    assert len(r["poisoned_models_attack_success"]) == 2
    # phases are measured; with the key set-up (1 round, rep4: +1 key check)
    # they add up to the total
    phases = r["phases"]
    assert phases["filter"]["rounds"] > 0 and phases["inference"]["rounds"] > 0
    in_phases = sum(ph["rounds"] for k, ph in phases.items() if k != "train")
    assert r["total"]["rounds"] - in_phases == (2 if protocol == "rep4" else 1)


def test_filter_drops_a_useless_model():
    """A model trained on random labels falls below phi: the secure filter
    drops it exactly as the cleartext one does."""
    s = prepare("digits", owners=4, poisoned=1, attack="random", model="logreg", epochs=5, seed=2)
    r = run_ensemble(s, "rep3", reveal=("labels", "kept", "filter"))
    bad = s.poisoned[0]
    assert r["filter"][bad] is False and r["cleartext_filter"][bad] is False
    assert r["models_kept"] == 3 and r["predictions_match_cleartext"]


def test_only_requested_values_are_revealed(small_setting):
    r = run_ensemble(small_setting, "rep3", reveal=("kept",))
    assert "accuracy" not in r and "filter" not in r and "certified_fraction" not in r
    assert r["models_kept"] == r["cleartext_models_kept"]
    assert r["phases"]["reveal"]["rounds"] == 1


def test_certified_fraction_from_revealed_votes(small_setting):
    r = run_ensemble(small_setting, "rep3")
    clear = cleartext.run_cleartext_safenet(small_setting.owners, small_setting.models,
                                            small_setting.dataset.X_test,
                                            small_setting.dataset.y_test, t=2)
    assert r["certified_fraction"] == pytest.approx(clear["certified_fraction"])
    assert np.isfinite(r["certified_fraction"])
