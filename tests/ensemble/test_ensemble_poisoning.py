"""Tests for ensemble/poisoning.py: triggers, poisoned owners, attack success."""

import numpy as np
import pytest

from ensemble.models import train_model
from ensemble.poisoning import (Attack, apply_trigger, attack_success, calibrate_trigger,
                                choose_poisoned, poison_owner)


def test_attack_defaults_and_validation():
    assert Attack("backdoor").fraction == 0.5
    assert Attack("labelflip").fraction == 1.0
    assert Attack("random").fraction == 1.0
    assert Attack("backdoor", fraction=0.2).fraction == 0.2
    with pytest.raises(ValueError, match="kind"):
        Attack("gradient")
    with pytest.raises(ValueError, match="fraction"):
        Attack("backdoor", fraction=1.5)
    with pytest.raises(ValueError):
        Attack("labelflip", source_class=2, target_class=2)


def test_image_trigger_bottom_right_3x3():
    X = np.random.default_rng(0).uniform(0, 0.5, size=(4, 64))
    T = apply_trigger(X, Attack("backdoor"), (8, 8))
    assert not np.shares_memory(T, X) and X.max() < 0.5  # input untouched
    img = T.reshape(4, 8, 8)
    assert (img[:, 5:, 5:] == 1.0).all()
    mask = np.ones((8, 8), bool)
    mask[5:, 5:] = False
    np.testing.assert_array_equal(img[:, mask], X.reshape(4, 8, 8)[:, mask])
    # 28x28 images too
    T28 = apply_trigger(np.zeros((1, 784)), Attack("backdoor"), (28, 28)).reshape(28, 28)
    assert T28.sum() == 9 and (T28[25:, 25:] == 1).all()


def test_tabular_trigger_last_three_features():
    X = np.zeros((3, 10))
    T = apply_trigger(X, Attack("backdoor"), (10,))
    assert (T[:, -3:] == 5.0).all() and not T[:, :-3].any()
    cal = calibrate_trigger(Attack("backdoor"), np.array([[1.0, 7.5], [2.0, -3.0]]))
    assert cal.trigger_value == 7.5
    assert (apply_trigger(X, cal, (10,))[:, -3:] == 7.5).all()
    with pytest.raises(ValueError):
        apply_trigger(X, Attack("backdoor"), (3, 3))  # shape mismatch


def test_poison_owner_backdoor(digits, digits_owners):
    o = digits_owners[2]
    atk = Attack("backdoor", target_class=4)
    p = poison_owner(o, atk, digits.feature_shape, np.random.default_rng(0))
    changed = np.flatnonzero((p.X_train != o.X_train).any(axis=1) | (p.y_train != o.y_train))
    img = p.X_train.reshape(-1, 8, 8)
    triggered = np.flatnonzero((img[:, 5:, 5:] == 1.0).all(axis=(1, 2)))
    k = int(np.floor(0.5 * o.n_train + 0.5))
    assert len(triggered) >= k and (p.y_train[triggered] == 4).sum() >= k
    assert set(changed) <= set(triggered)
    assert (p.y_train != o.y_train).sum() > 0.4 * k  # most had another label
    # validation stays clean by default; the original owner is untouched
    np.testing.assert_array_equal(p.X_val, o.X_val)
    np.testing.assert_array_equal(p.y_val, o.y_val)
    assert not (o.X_train.reshape(-1, 8, 8)[:, 5:, 5:] == 1.0).all(axis=(1, 2)).all()
    pv = poison_owner(o, atk, digits.feature_shape, np.random.default_rng(0),
                      poison_validation=True)
    assert (pv.y_val == 4).sum() >= int(np.floor(0.5 * o.n_val + 0.5))
    assert not np.array_equal(pv.X_val, o.X_val)


def test_poison_owner_labelflip_and_random(digits_owners):
    o = digits_owners[0]
    lf = poison_owner(o, Attack("labelflip", source_class=1, target_class=7), (8, 8), 0)
    src = o.y_train == 1
    assert src.sum() > 0 and (lf.y_train[src] == 7).all()
    np.testing.assert_array_equal(lf.y_train[~src], o.y_train[~src])
    np.testing.assert_array_equal(lf.X_train, o.X_train)
    rnd = poison_owner(o, Attack("random"), (8, 8), 0, n_classes=10)
    assert (rnd.y_train != o.y_train).all()  # fraction 1.0, always a different label
    assert rnd.y_train.min() >= 0 and rnd.y_train.max() <= 9
    half = poison_owner(o, Attack("random", fraction=0.5), (8, 8), 0, n_classes=10)
    assert (half.y_train != o.y_train).sum() == int(np.floor(0.5 * o.n_train + 0.5))


def test_poison_owner_is_seeded(digits_owners):
    o = digits_owners[1]
    a = poison_owner(o, Attack("backdoor"), (8, 8), np.random.default_rng(9))
    b = poison_owner(o, Attack("backdoor"), (8, 8), np.random.default_rng(9))
    c = poison_owner(o, Attack("backdoor"), (8, 8), np.random.default_rng(10))
    np.testing.assert_array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


def test_choose_poisoned():
    a = choose_poisoned(10, 3, seed=1)
    assert a == choose_poisoned(10, 3, seed=1) and a == sorted(set(a)) and len(a) == 3
    assert all(0 <= i < 10 for i in a)
    assert choose_poisoned(10, 0) == [] and choose_poisoned(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        choose_poisoned(3, 4)
    with pytest.raises(ValueError):
        choose_poisoned(3, -1)


def test_backdoor_success_poisoned_vs_clean(digits, digits_owners):
    o = digits_owners[0]
    atk = Attack("backdoor", target_class=0)
    p = poison_owner(o, atk, digits.feature_shape, np.random.default_rng(0))
    bad = train_model(p.X_train, p.y_train, 10, kind="mlp")
    good = train_model(o.X_train, o.y_train, 10, kind="mlp")
    asr_bad = attack_success(bad.predict, digits.X_test, digits.y_test, atk, digits.feature_shape)
    asr_good = attack_success(good.predict, digits.X_test, digits.y_test, atk,
                              digits.feature_shape)
    assert asr_bad > 0.5 and asr_good < 0.1
    # the success rate counts only non-target test points
    always0 = attack_success(lambda X: np.zeros(len(X), int), digits.X_test, digits.y_test,
                             atk, digits.feature_shape)
    assert always0 == 1.0


def test_labelflip_success_poisoned_vs_clean(digits, digits_owners):
    o = digits_owners[0]
    atk = Attack("labelflip", source_class=1, target_class=7)
    p = poison_owner(o, atk, digits.feature_shape, np.random.default_rng(0))
    bad = train_model(p.X_train, p.y_train, 10, kind="logreg")
    good = train_model(o.X_train, o.y_train, 10, kind="logreg")
    s_bad = attack_success(bad.predict, digits.X_test, digits.y_test, atk, digits.feature_shape)
    s_good = attack_success(good.predict, digits.X_test, digits.y_test, atk,
                            digits.feature_shape)
    assert s_bad > 0.5 and s_good < 0.1


def test_random_attack_success_is_accuracy_drop(digits):
    atk = Attack("random")
    pred = lambda X: np.zeros(len(X), int)  # noqa: E731
    assert attack_success(pred, digits.X_test, digits.y_test, atk, (8, 8)) is None
    acc0 = float(np.mean(digits.y_test == 0))
    drop = attack_success(pred, digits.X_test, digits.y_test, atk, (8, 8), clean_accuracy=0.95)
    assert drop == pytest.approx(0.95 - acc0)
