"""Tests for ensemble/data.py: built-in data sets, IDX and adult loaders."""

import gzip
import os
import struct

import numpy as np
import pytest

from ensemble.data import (ADULT_FILES, MNIST_FILES, Dataset, load_dataset, read_idx)


# ---------------------------------------------------------------- built-ins

def test_digits_split_and_scaling(digits):
    assert isinstance(digits, Dataset)
    assert digits.X_train.shape == (1437, 64) and digits.X_test.shape == (360, 64)
    assert digits.X_train.dtype == np.float64 and digits.y_train.dtype == np.int64
    assert digits.feature_shape == (8, 8) and digits.n_classes == 10
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0
    # stratified: every class present in both parts with ~the same share
    tr = np.bincount(digits.y_train, minlength=10) / 1437
    te = np.bincount(digits.y_test, minlength=10) / 360
    assert np.abs(tr - te).max() < 0.01
    # identical to sklearn's split with random_state=seed
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.2,
                                          stratify=d.target, random_state=0)
    np.testing.assert_array_equal(digits.X_train, Xtr)
    np.testing.assert_array_equal(digits.y_test, yte)


def test_digits_seed_changes_split():
    a, b = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert a.X_train.shape == b.X_train.shape
    assert not np.array_equal(a.y_train, b.y_train)


def test_breast_cancer_standardized_with_train_stats(breast_cancer):
    ds = breast_cancer
    assert ds.n_classes == 2 and ds.feature_shape == (30,)
    assert len(ds.y_train) + len(ds.y_test) == 569 and len(ds.y_test) == 114
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, atol=1e-10)
    # the test set is NOT re-standardized with its own statistics
    assert np.abs(ds.X_test.mean(axis=0)).max() > 1e-3


def test_synthetic_reproducible_and_n():
    a = load_dataset("synthetic", seed=3)
    b = load_dataset("synthetic", seed=3)
    c = load_dataset("synthetic", seed=4)
    assert a.X_train.shape == (8000, 64) and a.X_test.shape == (2000, 64)
    assert a.n_classes == 10 and a.feature_shape == (64,)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    s = load_dataset("synthetic", n=500)
    assert len(s.y_train) + len(s.y_test) == 500
    assert set(np.unique(s.y_train)) == set(range(10))


def test_n_subsamples_training_set():
    ds = load_dataset("digits", n=300)
    assert ds.X_train.shape == (300, 64) and ds.X_test.shape == (360, 64)
    with pytest.raises(ValueError):
        load_dataset("digits", n=5000)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        load_dataset("cifar")
    msg = str(e.value)
    for name in ("digits", "breast_cancer", "mnist", "fashion", "adult", "synthetic"):
        assert name in msg


# ---------------------------------------------------------------- IDX

def _idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + arr.astype(">u1" if code == 0x08 else arr.dtype).tobytes()


def _write(path, data, gz):
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def _write_mnist(d, rng, n_train=7, n_test=3, gz=(False, True, True, False)):
    Xtr = rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8)
    ytr = rng.integers(0, 10, size=n_train, dtype=np.uint8)
    Xte = rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8)
    yte = rng.integers(0, 10, size=n_test, dtype=np.uint8)
    for fname, arr, g in zip(MNIST_FILES, (Xtr, ytr, Xte, yte), gz):
        _write(os.path.join(d, fname), _idx_bytes(arr), g)
    return Xtr, ytr, Xte, yte


@pytest.mark.parametrize("name", ["mnist", "fashion"])
def test_idx_loader_plain_and_gz(tmp_path, name):
    Xtr, ytr, Xte, yte = _write_mnist(tmp_path, np.random.default_rng(0))
    ds = load_dataset(name, data_dir=tmp_path)
    assert ds.name == name and ds.feature_shape == (28, 28) and ds.n_classes == 10
    assert ds.X_train.shape == (7, 784) and ds.X_test.shape == (3, 784)
    np.testing.assert_array_equal(ds.X_train, Xtr.reshape(7, -1) / 255.0)
    np.testing.assert_array_equal(ds.X_test, Xte.reshape(3, -1) / 255.0)
    np.testing.assert_array_equal(ds.y_train, ytr)
    np.testing.assert_array_equal(ds.y_test, yte)
    assert ds.y_train.dtype == np.int64 and ds.X_train.dtype == np.float64


def test_read_idx_checks_magic_and_size(tmp_path):
    good = _idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))
    p = tmp_path / "ok"
    p.write_bytes(good)
    np.testing.assert_array_equal(read_idx(p), np.arange(12).reshape(3, 4))
    bad_magic = tmp_path / "bad_magic"
    bad_magic.write_bytes(b"\x01" + good[1:])
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad_magic)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(good[:-1])
    with pytest.raises(ValueError, match="12 data bytes"):
        read_idx(truncated)
    with pytest.raises(ValueError, match="dimensions"):
        read_idx(p, expected_ndim=3)
    # labels file given where images are expected
    _write_mnist(tmp_path, np.random.default_rng(1), gz=(False,) * 4)
    os.replace(tmp_path / MNIST_FILES[1], tmp_path / "lbl")
    os.replace(tmp_path / MNIST_FILES[0], tmp_path / MNIST_FILES[1])
    os.replace(tmp_path / "lbl", tmp_path / MNIST_FILES[0])
    with pytest.raises(ValueError, match="dimensions"):
        load_dataset("mnist", data_dir=tmp_path)


def test_idx_count_mismatch(tmp_path):
    rng = np.random.default_rng(2)
    _write_mnist(tmp_path, rng, gz=(False,) * 4)
    (tmp_path / MNIST_FILES[1]).write_bytes(_idx_bytes(np.zeros(6, dtype=np.uint8)))
    with pytest.raises(ValueError, match="7 images but"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_idx_file_message(tmp_path):
    _write_mnist(tmp_path, np.random.default_rng(0), gz=(False,) * 4)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("mnist", data_dir=tmp_path)
    msg = str(e.value)
    assert os.path.join(str(tmp_path), "t10k-labels-idx1-ubyte") in msg
    for f in MNIST_FILES:
        assert f in msg


def test_missing_data_dir_message(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("fashion", data_dir=missing)
    assert str(missing) in str(e.value) and "train-images-idx3-ubyte" in str(e.value)
    with pytest.raises(FileNotFoundError, match="adult.data"):
        load_dataset("adult", data_dir=None)


# ---------------------------------------------------------------- adult

ADULT_TRAIN = """\
39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K
50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 0, 0, 13, United-States, <=50K
38, Private, 215646, HS-grad, 9, Divorced, Handlers-cleaners, Not-in-family, White, Male, 0, 0, 40, United-States, <=50K
53, Private, 234721, 11th, 7, Married-civ-spouse, Handlers-cleaners, Husband, Black, Male, 0, 1902, 40, United-States, <=50K
31, Private, 45781, Masters, 14, Never-married, Prof-specialty, Not-in-family, White, Female, 14084, 0, 50, United-States, >50K
42, Private, 159449, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, White, Male, 5178, 0, 40, United-States, >50K
54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K

"""

ADULT_TEST = """\
|1x3 Cross validator
25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, United-States, <=50K.
38, Private, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Male, 0, 0, 50, United-States, <=50K.
44, Private, 160323, Some-college, 10, Married-civ-spouse, Machine-op-inspct, Husband, Black, Male, 7688, 0, 40, ?, >50K.

"""


def _adult_dir(tmp_path, gz_test=False):
    (tmp_path / "adult.data").write_text(ADULT_TRAIN)
    if gz_test:
        with gzip.open(tmp_path / "adult.test.gz", "wt") as f:
            f.write(ADULT_TEST)
    else:
        (tmp_path / "adult.test").write_text(ADULT_TEST)
    return tmp_path


@pytest.mark.parametrize("gz_test", [False, True])
def test_adult_loader(tmp_path, gz_test):
    ds = load_dataset("adult", data_dir=_adult_dir(tmp_path, gz_test))
    assert ds.X_train.shape[0] == 7 and ds.X_test.shape[0] == 3
    np.testing.assert_array_equal(ds.y_train, [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(ds.y_test, [0, 0, 1])
    # numeric block: 6 standardized columns (train statistics)
    np.testing.assert_allclose(ds.X_train[:, :6].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train[:, :6].std(axis=0), 1.0, atol=1e-12)
    # a constant numeric column would be left at 0 (std 0 -> divide by 1)
    ages = np.array([39, 50, 38, 53, 31, 42, 54.0])
    assert ds.X_test[0, 0] == pytest.approx((25 - ages.mean()) / ages.std())
    # categorical blocks: one-hot over TRAIN categories ('?' is a category)
    n_cat = {"workclass": 4, "education": 5, "marital-status": 3, "occupation": 5,
             "relationship": 2, "race": 3, "sex": 2, "native-country": 2}
    assert ds.X_train.shape[1] == 6 + sum(n_cat.values())
    assert ds.feature_shape == (ds.X_train.shape[1],) and ds.n_classes == 2
    onehot_tr = ds.X_train[:, 6:]
    assert set(np.unique(onehot_tr)) == {0.0, 1.0}
    assert np.all(onehot_tr.sum(axis=1) == len(n_cat))
    # test rows: unseen categories (Machine-op-inspct, Farming-fishing,
    # Own-child, native-country '?') encode as all-zero blocks
    row_sums = ds.X_test[:, 6:].sum(axis=1)
    np.testing.assert_array_equal(row_sums, [len(n_cat) - 2, len(n_cat) - 1, len(n_cat) - 2])


def test_adult_missing_file_message(tmp_path):
    (tmp_path / "adult.data").write_text(ADULT_TRAIN)
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("adult", data_dir=tmp_path)
    msg = str(e.value)
    assert os.path.join(str(tmp_path), "adult.test") in msg
    for f in ADULT_FILES:
        assert f in msg


def test_adult_bad_label(tmp_path):
    _adult_dir(tmp_path)
    (tmp_path / "adult.test").write_text(ADULT_TEST.replace(">50K.", "maybe"))
    with pytest.raises(ValueError, match="income label"):
        load_dataset("adult", data_dir=tmp_path)
