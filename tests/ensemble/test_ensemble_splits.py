"""Tests for ensemble/splits.py: owner partitions and validation hold-outs."""

import numpy as np
import pytest

from ensemble.splits import OwnerData, n_validation, split_owners


def _check_partition(owners, X, y):
    tr = np.concatenate([o.train_indices for o in owners])
    va = np.concatenate([o.val_indices for o in owners])
    allidx = np.concatenate([tr, va])
    assert len(np.unique(allidx)) == len(allidx), "owners / parts overlap"
    np.testing.assert_array_equal(np.sort(allidx), np.arange(len(X)))
    for o in owners:
        np.testing.assert_array_equal(o.X_train, X[o.train_indices])
        np.testing.assert_array_equal(o.y_train, y[o.train_indices])
        np.testing.assert_array_equal(o.X_val, X[o.val_indices])
        np.testing.assert_array_equal(o.y_val, y[o.val_indices])


def test_digits_contiguous_sizes(digits, digits_owners):
    owners = digits_owners
    assert len(owners) == 10 and all(isinstance(o, OwnerData) for o in owners)
    assert [o.index for o in owners] == list(range(10))
    assert sum(o.n_val for o in owners) == 290
    assert sum(o.n_train for o in owners) == 1437 - 290
    assert [o.n_train + o.n_val for o in owners] == [144] * 7 + [143] * 3
    assert all(o.n_val == 29 for o in owners)
    _check_partition(owners, digits.X_train, digits.y_train)
    # contiguous chunks in the given order, validation = LAST part of the chunk
    start = 0
    for o in owners:
        chunk = np.concatenate([o.train_indices, o.val_indices])
        np.testing.assert_array_equal(chunk, np.arange(start, start + len(chunk)))
        start += len(chunk)
    # and no data row is shared between owners
    rows = {r.tobytes() for o in owners[:1] for r in o.X_train}
    assert not any(r.tobytes() in rows for r in owners[1].X_train)


def test_n_validation_rule():
    assert n_validation(144, 0.2) == 29  # 28.8
    assert n_validation(143, 0.2) == 29  # 28.6
    assert n_validation(142, 0.2) == 28  # 28.4
    assert n_validation(5, 0.5) == 3     # 2.5 rounds half up
    assert n_validation(2, 0.9) == 1     # keeps >= 1 training point
    assert n_validation(10, 0.0) == 0


def test_iid_reproducible_and_shuffled(digits):
    X, y = digits.X_train, digits.y_train
    a = split_owners(X, y, 7, mode="iid", seed=5)
    b = split_owners(X, y, 7, mode="iid", seed=5)
    c = split_owners(X, y, 7, mode="iid", seed=6)
    _check_partition(a, X, y)
    for oa, ob in zip(a, b):
        np.testing.assert_array_equal(oa.train_indices, ob.train_indices)
    assert not np.array_equal(a[0].train_indices, c[0].train_indices)
    sizes = [o.n_train + o.n_val for o in a]
    assert max(sizes) - min(sizes) <= 1
    # shuffled: the first owner's points are not a contiguous block
    assert np.ptp(np.concatenate([a[0].train_indices, a[0].val_indices])) > 1000


def _mean_label_entropy(owners, k):
    ents = []
    for o in owners:
        yo = np.concatenate([o.y_train, o.y_val])
        p = np.bincount(yo, minlength=k) / len(yo)
        p = p[p > 0]
        ents.append(-(p * np.log(p)).sum())
    return float(np.mean(ents))


def test_dirichlet_skews_labels_and_is_reproducible(digits):
    X, y = digits.X_train, digits.y_train
    skewed = split_owners(X, y, 10, mode="dirichlet", alpha=0.1, seed=0)
    flat = split_owners(X, y, 10, mode="dirichlet", alpha=100.0, seed=0)
    _check_partition(skewed, X, y)
    _check_partition(flat, X, y)
    h_skew, h_flat = _mean_label_entropy(skewed, 10), _mean_label_entropy(flat, 10)
    assert h_flat > 0.95 * np.log(10)          # near uniform labels
    # Dir(0.1) over 10 owners: ~3 effective classes per owner (entropy ~1.0
    # over seeds 0..7, vs log(10) = 2.30 for alpha = 100)
    assert h_skew < 0.6 * h_flat
    mid = split_owners(X, y, 10, mode="dirichlet", alpha=1.0, seed=0)
    assert h_skew < _mean_label_entropy(mid, 10) < h_flat
    assert all(o.n_train + o.n_val >= 2 for o in skewed)
    again = split_owners(X, y, 10, mode="dirichlet", alpha=0.1, seed=0)
    for a, b in zip(skewed, again):
        np.testing.assert_array_equal(a.train_indices, b.train_indices)
        np.testing.assert_array_equal(a.val_indices, b.val_indices)
    other = split_owners(X, y, 10, mode="dirichlet", alpha=0.1, seed=1)
    assert any(len(a.train_indices) != len(b.train_indices) or
               not np.array_equal(a.train_indices, b.train_indices)
               for a, b in zip(skewed, other))


def test_dirichlet_alpha_too_small():
    X = np.zeros((20, 3))
    y = np.repeat(np.arange(2), 10)
    with pytest.raises(ValueError, match="alpha.*too small"):
        split_owners(X, y, 10, mode="dirichlet", alpha=1e-4, seed=0)


def test_split_validation_errors(digits):
    X, y = digits.X_train, digits.y_train
    with pytest.raises(ValueError, match="m must be >= 1"):
        split_owners(X, y, 0)
    with pytest.raises(ValueError, match="too large"):
        split_owners(X, y, len(X) // 2 + 1)
    split_owners(X, y, len(X) // 2)  # the limit itself is fine
    with pytest.raises(ValueError, match="val_fraction"):
        split_owners(X, y, 10, val_fraction=1.0)
    with pytest.raises(ValueError, match="val_fraction"):
        split_owners(X, y, 10, val_fraction=-0.1)
    with pytest.raises(ValueError, match="unknown mode"):
        split_owners(X, y, 10, mode="random")
    with pytest.raises(ValueError, match="alpha"):
        split_owners(X, y, 10, mode="dirichlet")
    with pytest.raises(ValueError, match="alpha"):
        split_owners(X, y, 10, mode="iid", alpha=1.0)
    with pytest.raises(ValueError, match="len"):
        split_owners(X, y[:-1], 10)
    with pytest.raises(TypeError):
        split_owners(X, y, 2.5)


def test_val_fraction_zero_keeps_everything(digits):
    owners = split_owners(digits.X_train, digits.y_train, 4, val_fraction=0.0)
    assert sum(o.n_train for o in owners) == 1437 and all(o.n_val == 0 for o in owners)
