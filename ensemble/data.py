"""Dataset loading for the SafeNet ensemble experiments (cleartext side).

Job: turn a dataset name into a :class:`Dataset` of float64 features in a
fixed, documented preprocessing, with a deterministic (seeded) train/test
split.  Supported names: ``digits``, ``breast_cancer``, ``mnist``,
``fashion``, ``adult``, ``synthetic``.

Imports allowed: numpy, scikit-learn, the standard library and the other
``ensemble`` cleartext modules.  Nothing here may import mpcore/, protocols/,
native/ or bench/.

Preprocessing per dataset
-------------------------
* ``digits``: ``sklearn.datasets.load_digits``; pixels / 16 -> [0, 1];
  ``train_test_split(test_size=test_fraction, stratify=y, random_state=seed)``
  (seed 0, 0.2 -> 1437 train / 360 test).  feature_shape (8, 8).
* ``breast_cancer``: ``load_breast_cancer``; stratified split as above;
  standardized with the TRAIN mean / std (std 0 -> 1).  feature_shape (30,).
* ``mnist`` / ``fashion``: the four IDX files in ``data_dir`` (each may be
  gzip-compressed with a ``.gz`` suffix); pixels / 255; the official
  60k/10k train/test split (``test_fraction`` is ignored).  feature_shape
  (28, 28).
* ``adult``: UCI ``adult.data`` (train) and ``adult.test`` (test) in
  ``data_dir``.  Numeric columns are standardized with the TRAIN mean/std,
  categorical columns are one-hot encoded with the categories seen in TRAIN
  (sorted; unseen test categories encode as all zeros).  A missing value
  (``?``) is kept as its own category ``"?"`` (no rows are dropped).  Label
  is 1 iff income is ``>50K`` (the test file's trailing ``.`` is stripped;
  its ``|1x3 Cross validator`` first line and blank lines are skipped).
  Columns: the 6 numeric columns first, then the one-hot blocks in the file's
  column order.  ``test_fraction`` is ignored.  feature_shape (d,).
* ``synthetic``: ``n`` points (default 10000), d = 64, 10 classes; class
  means ~ N(0, 0.35^2 I), points = mean + N(0, I), balanced classes, all
  drawn from ``np.random.default_rng(seed)``; stratified split as digits.

``n`` (optional): for ``synthetic`` the total number of points; for every
other dataset the training set is reduced to a seeded random subset of ``n``
points, kept in their original order (the test set is unchanged; any
standardization statistics are those of the FULL training set).

Errors: unknown name -> ValueError listing the valid names; a missing
``data_dir`` or file -> FileNotFoundError naming the exact missing path and
the expected file names.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Dataset",
    "load_dataset",
    "read_idx",
    "DATASET_NAMES",
    "MNIST_FILES",
    "ADULT_FILES",
    "ADULT_COLUMNS",
]

DATASET_NAMES = ("digits", "breast_cancer", "mnist", "fashion", "adult", "synthetic")

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

ADULT_FILES = ("adult.data", "adult.test")

ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num",
    "marital-status", "occupation", "relationship", "race", "sex",
    "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "income",
)
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain",
                 "capital-loss", "hours-per-week")
ADULT_CATEGORICAL = tuple(c for c in ADULT_COLUMNS[:-1] if c not in ADULT_NUMERIC)


@dataclass
class Dataset:
    """A preprocessed dataset: float64 2-D features, int64 labels 0..n_classes-1."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_shape: tuple

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:  # keep reprs short (arrays can be large)
        return (f"Dataset(name={self.name!r}, train={self.X_train.shape}, "
                f"test={self.X_test.shape}, n_classes={self.n_classes}, "
                f"feature_shape={self.feature_shape})")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def _finish(name, X_train, y_train, X_test, y_test, n_classes, feature_shape):
    X_train = np.ascontiguousarray(X_train, dtype=np.float64)
    X_test = np.ascontiguousarray(X_test, dtype=np.float64)
    y_train = np.ascontiguousarray(y_train, dtype=np.int64)
    y_test = np.ascontiguousarray(y_test, dtype=np.int64)
    if X_train.ndim != 2 or X_test.ndim != 2:
        raise ValueError("features must be 2-D")
    return Dataset(name, X_train, y_train, X_test, y_test, int(n_classes),
                   tuple(int(s) for s in feature_shape))


def _stratified_split(X, y, test_fraction, seed):
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    return train_test_split(X, y, test_size=test_fraction, stratify=y,
                            random_state=seed)


def _standardize(X_train, X_test, cols=None):
    """Standardize (in copies) with the TRAIN mean/std; zero std -> 1."""
    X_train = np.array(X_train, dtype=np.float64)
    X_test = np.array(X_test, dtype=np.float64)
    sl = slice(None) if cols is None else cols
    mu = X_train[:, sl].mean(axis=0)
    sd = X_train[:, sl].std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    X_train[:, sl] = (X_train[:, sl] - mu) / sd
    X_test[:, sl] = (X_test[:, sl] - mu) / sd
    return X_train, X_test


def _subsample_train(ds: Dataset, n, seed) -> Dataset:
    if n is None:
        return ds
    n = int(n)
    if n < 1 or n > len(ds.y_train):
        raise ValueError(f"n must be in [1, {len(ds.y_train)}] for {ds.name!r}, got {n}")
    if n == len(ds.y_train):
        return ds
    idx = np.sort(np.random.default_rng(seed).permutation(len(ds.y_train))[:n])
    ds.X_train = ds.X_train[idx]
    ds.y_train = ds.y_train[idx]
    return ds


def _require_dir(data_dir, expected, name):
    if data_dir is None:
        raise FileNotFoundError(
            f"dataset {name!r} needs data_dir containing {', '.join(expected)} "
            f"(each optionally .gz where applicable); data_dir=None was given")
    data_dir = os.fspath(data_dir)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(
            f"data_dir {os.path.abspath(data_dir)!r} does not exist; dataset "
            f"{name!r} expects it to contain: {', '.join(expected)}")
    return data_dir


def _find_file(data_dir, fname, expected, name, allow_gz=True):
    path = os.path.join(data_dir, fname)
    if os.path.isfile(path):
        return path
    if allow_gz and os.path.isfile(path + ".gz"):
        return path + ".gz"
    alt = f" (or {path}.gz)" if allow_gz else ""
    raise FileNotFoundError(
        f"missing file {path}{alt} for dataset {name!r}; expected files in "
        f"{data_dir}: {', '.join(expected)}"
        + (" (each optionally gzip-compressed with a .gz suffix)" if allow_gz else ""))


def _read_bytes(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------
# IDX (MNIST / Fashion-MNIST)
# ---------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path, expected_ndim=None, expected_dtype_code=None) -> np.ndarray:
    """Parse an IDX file (optionally ``.gz``) into a numpy array.

    Format: 2 zero bytes, a dtype code byte, an ndim byte, ndim big-endian
    uint32 dimension sizes, then the data (big-endian).  Raises ValueError on
    a bad magic number, unexpected dtype/ndim, or a data section whose size
    does not match the header.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: bad IDX magic number {raw[:4].hex()} (first two bytes must be 0)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}")
    if expected_dtype_code is not None and code != expected_dtype_code:
        raise ValueError(f"{path}: IDX dtype code 0x{code:02x}, expected 0x{expected_dtype_code:02x}")
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(f"{path}: IDX magic says {ndim} dimensions, expected {expected_ndim} "
                         f"(magic 0x{int.from_bytes(raw[:4], 'big'):08x})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dt = _IDX_DTYPES[code]
    expected_bytes = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    actual = len(raw) - header
    if actual != expected_bytes:
        raise ValueError(f"{path}: IDX header dims {dims} need {expected_bytes} data bytes, "
                         f"file has {actual}")
    arr = np.frombuffer(raw, dtype=dt, offset=header, count=int(np.prod(dims, dtype=np.int64)))
    return arr.reshape(dims).astype(dt.newbyteorder("="))


def _load_idx_dataset(name, data_dir):
    data_dir = _require_dir(data_dir, MNIST_FILES, name)
    paths = [_find_file(data_dir, f, MNIST_FILES, name) for f in MNIST_FILES]
    Xtr = read_idx(paths[0], expected_ndim=3, expected_dtype_code=0x08)
    ytr = read_idx(paths[1], expected_ndim=1, expected_dtype_code=0x08)
    Xte = read_idx(paths[2], expected_ndim=3, expected_dtype_code=0x08)
    yte = read_idx(paths[3], expected_ndim=1, expected_dtype_code=0x08)
    for X, y, pi, pl in ((Xtr, ytr, paths[0], paths[1]), (Xte, yte, paths[2], paths[3])):
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{pi} has {X.shape[0]} images but {pl} has {y.shape[0]} labels")
    if Xtr.shape[1:] != Xte.shape[1:]:
        raise ValueError(f"train images {Xtr.shape[1:]} and test images {Xte.shape[1:]} differ in shape")
    if (ytr.size and ytr.max() > 9) or (yte.size and yte.max() > 9):
        raise ValueError(f"{name}: labels must be in 0..9")
    shape = Xtr.shape[1:]
    return _finish(name, Xtr.reshape(len(Xtr), -1) / 255.0, ytr,
                   Xte.reshape(len(Xte), -1) / 255.0, yte, 10, shape)


# ---------------------------------------------------------------------------
# UCI adult
# ---------------------------------------------------------------------------

def _read_adult_rows(path):
    raw = _read_bytes(path).decode("utf-8", errors="replace")
    rows = []
    for lineno, rec in enumerate(csv.reader(io.StringIO(raw), skipinitialspace=True), 1):
        if not rec or all(not c.strip() for c in rec):
            continue
        if rec[0].lstrip().startswith("|"):  # adult.test's "|1x3 Cross validator"
            continue
        rec = [c.strip() for c in rec]
        if len(rec) != len(ADULT_COLUMNS):
            raise ValueError(f"{path}:{lineno}: expected {len(ADULT_COLUMNS)} fields, got {len(rec)}")
        rows.append(rec)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return rows


def _adult_label(s, path):
    s = s.strip().rstrip(".").strip()
    if s == ">50K":
        return 1
    if s == "<=50K":
        return 0
    raise ValueError(f"{path}: unknown income label {s!r}")


def _load_adult(data_dir):
    name = "adult"
    data_dir = _require_dir(data_dir, ADULT_FILES, name)
    p_train = _find_file(data_dir, ADULT_FILES[0], ADULT_FILES, name)
    p_test = _find_file(data_dir, ADULT_FILES[1], ADULT_FILES, name)
    tr, te = _read_adult_rows(p_train), _read_adult_rows(p_test)
    col = {c: i for i, c in enumerate(ADULT_COLUMNS)}

    def numeric(rows, path):
        out = np.empty((len(rows), len(ADULT_NUMERIC)))
        for r, rec in enumerate(rows):
            for j, c in enumerate(ADULT_NUMERIC):
                v = rec[col[c]]
                try:
                    out[r, j] = float(v)
                except ValueError:
                    raise ValueError(f"{path}: row {r}: non-numeric {c}={v!r}") from None
        return out

    cats = {c: sorted({rec[col[c]] for rec in tr}) for c in ADULT_CATEGORICAL}

    def onehot(rows):
        blocks = []
        for c in ADULT_CATEGORICAL:
            pos = {v: k for k, v in enumerate(cats[c])}
            B = np.zeros((len(rows), len(cats[c])))
            for r, rec in enumerate(rows):
                k = pos.get(rec[col[c]])
                if k is not None:
                    B[r, k] = 1.0
            blocks.append(B)
        return np.hstack(blocks)

    Ntr, Nte = numeric(tr, p_train), numeric(te, p_test)
    Ntr, Nte = _standardize(Ntr, Nte)
    Xtr = np.hstack([Ntr, onehot(tr)])
    Xte = np.hstack([Nte, onehot(te)])
    ytr = np.array([_adult_label(rec[-1], p_train) for rec in tr])
    yte = np.array([_adult_label(rec[-1], p_test) for rec in te])
    return _finish(name, Xtr, ytr, Xte, yte, 2, (Xtr.shape[1],))


# ---------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------

def load_dataset(name, data_dir=None, seed=0, test_fraction=0.2, n=None) -> Dataset:
    """Load and preprocess dataset ``name`` (see the module docstring)."""
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        Xtr, Xte, ytr, yte = _stratified_split(d.data / 16.0, d.target, test_fraction, seed)
        ds = _finish(name, Xtr, ytr, Xte, yte, 10, (8, 8))
        return _subsample_train(ds, n, seed)
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        d = load_breast_cancer()
        Xtr, Xte, ytr, yte = _stratified_split(d.data, d.target, test_fraction, seed)
        Xtr, Xte = _standardize(Xtr, Xte)
        ds = _finish(name, Xtr, ytr, Xte, yte, 2, (Xtr.shape[1],))
        return _subsample_train(ds, n, seed)
    if name in ("mnist", "fashion"):
        return _subsample_train(_load_idx_dataset(name, data_dir), n, seed)
    if name == "adult":
        return _subsample_train(_load_adult(data_dir), n, seed)
    if name == "synthetic":
        n_total = 10000 if n is None else int(n)
        d, k = 64, 10
        if n_total < 2 * k / min(test_fraction, 1 - test_fraction):
            raise ValueError(f"synthetic: n={n_total} too small for {k} classes and "
                             f"test_fraction={test_fraction}")
        rng = np.random.default_rng(seed)
        means = rng.normal(0.0, 0.35, size=(k, d))
        y = np.arange(n_total) % k
        y = y[rng.permutation(n_total)]
        X = means[y] + rng.normal(0.0, 1.0, size=(n_total, d))
        Xtr, Xte, ytr, yte = _stratified_split(X, y, test_fraction, seed)
        return _finish(name, Xtr, ytr, Xte, yte, k, (d,))
    raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}")
