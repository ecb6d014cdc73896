"""Tests for ensemble/cleartext.py: filter, votes, certification, full pipeline."""

import numpy as np
import pytest

from ensemble.cleartext import (certified_fraction, ensemble_predict, filter_models,
                                run_cleartext_safenet, threshold_count, validation_correct,
                                vote_margin, votes)
from ensemble.models import Model, train_model
from ensemble.poisoning import Attack, attack_success, choose_poisoned, poison_owner


def const_model(label, n_features=4, n_classes=5):
    """A model predicting ``label`` for every input."""
    b = np.zeros(n_classes)
    b[label] = 1.0
    return Model([(np.zeros((n_features, n_classes)), b)], "logreg")


# ---------------------------------------------------------------- pieces

def test_threshold_count_is_exact_ceiling():
    assert threshold_count(290, 0.6) == 174
    assert threshold_count(10, 0.55) == 6
    assert threshold_count(100, 0.07) == 7     # float 0.07*100 = 7.000000000000001
    assert threshold_count(7, 0.5) == 4
    assert threshold_count(0, 0.6) == 0
    assert threshold_count(50, 0.0) == 0 and threshold_count(50, 1.0) == 50
    with pytest.raises(ValueError):
        threshold_count(10, 1.2)


def test_filter_models_rule():
    keep = filter_models([173, 174, 175, 0, 290], 290, 0.6)
    np.testing.assert_array_equal(keep, [False, True, True, False, True])
    assert keep.dtype == bool


def test_validation_correct_counts():
    X = np.zeros((6, 4))
    y = np.array([0, 0, 1, 2, 0, 1])
    counts = validation_correct([const_model(0), const_model(1), const_model(4)], X, y)
    np.testing.assert_array_equal(counts, [3, 2, 0])
    assert counts.dtype == np.int64


def test_votes_and_ties_to_lowest_label():
    X = np.zeros((3, 4))
    models = [const_model(3), const_model(3), const_model(1), const_model(1), const_model(2)]
    V = votes(models, np.ones(5, bool), X)
    assert V.shape == (3, 5) and V.dtype == np.int64
    np.testing.assert_array_equal(V[0], [0, 2, 1, 2, 0])
    np.testing.assert_array_equal(ensemble_predict(V), [1, 1, 1])  # 1 vs 3 tie -> 1
    keep = np.array([True, True, False, True, True])
    V2 = votes(models, keep, X)
    np.testing.assert_array_equal(V2[0], [0, 1, 1, 2, 0])
    np.testing.assert_array_equal(ensemble_predict(V2), [3, 3, 3])
    np.testing.assert_array_equal(ensemble_predict(np.array([[2, 2, 1], [0, 3, 3], [0, 0, 0]])),
                                  [0, 1, 0])
    with pytest.raises(ValueError):
        votes(models, np.ones(4, bool), X)


def test_certified_fraction_definition():
    V = np.array([[3, 3, 0],    # margin 0
                  [4, 3, 0],    # 1
                  [5, 3, 1],    # 2
                  [6, 3, 0],    # 3
                  [9, 1, 4],    # 5
                  [0, 0, 7]])   # 7
    np.testing.assert_array_equal(vote_margin(V), [0, 1, 2, 3, 5, 7])
    assert certified_fraction(V, 0) == pytest.approx(5 / 6)   # strict winner
    assert certified_fraction(V, 1) == pytest.approx(3 / 6)   # margin > 2
    assert certified_fraction(V, 2) == pytest.approx(2 / 6)   # margin > 4
    assert certified_fraction(V, 3) == pytest.approx(1 / 6)
    with pytest.raises(ValueError):
        certified_fraction(V, -1)


def test_certified_points_survive_any_t_corrupt_models():
    """Brute force: changing the votes of any t models never flips a point
    whose margin is > 2t (ties break to the lowest label)."""
    rng = np.random.default_rng(0)
    m, k, n = 9, 4, 400
    for t in (0, 1, 2, 3):
        P = rng.integers(0, k, size=(m, n))
        P[: m // 2] = P[0]  # create large margins
        V = np.zeros((n, k), int)
        for p in P:
            V[np.arange(n), p] += 1
        base = ensemble_predict(V)
        cert = vote_margin(V) > 2 * t
        assert cert.any()
        for _ in range(50):
            bad = rng.choice(m, size=t, replace=False)
            P2 = P.copy()
            P2[bad] = rng.integers(0, k, size=(t, n))
            # worst case for each point: corrupt models vote for the runner-up
            runner = np.argsort(-V, axis=1, kind="stable")[:, 1]
            P3 = P.copy()
            P3[bad] = runner
            for Q in (P2, P3):
                W = np.zeros((n, k), int)
                for p in Q:
                    W[np.arange(n), p] += 1
                assert (ensemble_predict(W)[cert] == base[cert]).all()


# ---------------------------------------------------------------- digits SafeNet

N_OWNERS = 10


@pytest.fixture(scope="module")
def clean_models(digits_owners):
    return [train_model(o.X_train, o.y_train, 10, kind="mlp", hidden=(64,), epochs=20,
                        seed=o.index) for o in digits_owners]


def test_cleartext_safenet_digits(digits, digits_owners, clean_models):
    res = [run_cleartext_safenet(digits_owners, clean_models, digits.X_test, digits.y_test,
                                 phi=0.6, t=t) for t in (0, 1, 2)]
    r = res[0]
    assert r["accuracy"] >= 0.9
    assert r["models_kept"] == N_OWNERS and r["keep"].all()
    assert r["n_val"] == 290 and r["threshold"] == 174
    assert r["val_accuracy"].shape == (N_OWNERS,) and (r["val_accuracy"] >= 0.6).all()
    np.testing.assert_array_equal(r["val_counts"], np.round(r["val_accuracy"] * 290))
    np.testing.assert_array_equal(r["predictions"], ensemble_predict(r["votes"]))
    assert r["votes"].sum(axis=1).tolist() == [N_OWNERS] * len(digits.y_test)
    assert r["accuracy"] == pytest.approx(np.mean(r["predictions"] == digits.y_test))
    cf = [x["certified_fraction"] for x in res]
    assert cf[0] >= cf[1] >= cf[2] and cf[0] > cf[2]
    assert cf[0] > 0.9
    assert all(x["certified_accuracy"] <= x["certified_fraction"] for x in res)
    # the ensemble is at least as good as the average owner model
    own = np.mean([np.mean(mo.predict(digits.X_test) == digits.y_test) for mo in clean_models])
    assert r["accuracy"] >= own


def test_filter_drops_random_label_model(digits, digits_owners, clean_models):
    bad = 3
    o = poison_owner(digits_owners[bad], Attack("random"), digits.feature_shape, 0,
                     n_classes=10)
    models = list(clean_models)
    models[bad] = train_model(o.X_train, o.y_train, 10, kind="mlp", seed=bad)
    r = run_cleartext_safenet(digits_owners, models, digits.X_test, digits.y_test, phi=0.6)
    assert not r["keep"][bad] and r["val_accuracy"][bad] < 0.3
    assert r["models_kept"] == N_OWNERS - 1 and r["keep"].sum() == N_OWNERS - 1
    assert r["accuracy"] >= 0.9
    assert (r["votes"].sum(axis=1) == N_OWNERS - 1).all()


def test_backdoor_two_owners_ensemble_resists(digits, digits_owners):
    atk = Attack("backdoor", target_class=0)
    bad = choose_poisoned(N_OWNERS, 2, seed=0)
    owners = [poison_owner(o, atk, digits.feature_shape, np.random.default_rng(100 + o.index))
              if o.index in bad else o for o in digits_owners]
    models = [train_model(o.X_train, o.y_train, 10, kind="mlp", epochs=20, seed=o.index)
              for o in owners]
    r = run_cleartext_safenet(owners, models, digits.X_test, digits.y_test, phi=0.6, t=2)
    assert r["accuracy"] >= 0.9

    def ens(X):
        return run_cleartext_safenet(owners, models, X, np.zeros(len(X), int), 0.6, 2)["predictions"]

    asr_ens = attack_success(ens, digits.X_test, digits.y_test, atk, digits.feature_shape)
    asr_own = [attack_success(models[i].predict, digits.X_test, digits.y_test, atk,
                              digits.feature_shape) for i in bad]
    assert min(asr_own) > 0.5
    assert asr_ens < 0.1


def test_no_model_kept_warns(digits_owners, digits):
    models = [const_model(7, 64, 10)] * N_OWNERS
    with pytest.warns(RuntimeWarning, match="kept no model"):
        r = run_cleartext_safenet(digits_owners, models, digits.X_test, digits.y_test, phi=0.99)
    assert r["models_kept"] == 0 and (r["predictions"] == 0).all()
    assert r["certified_fraction"] == 0.0
