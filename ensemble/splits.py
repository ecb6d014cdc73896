"""Partition a training set among SafeNet data owners (cleartext side).

Job: split (X, y) into ``m`` owners, each with a local training part and a
held-out validation part (SafeNet's filter evaluates every owner's model on
the union of the owners' validation sets).

Imports allowed: numpy, scikit-learn, the standard library and the other
``ensemble`` cleartext modules.  Nothing here may import mpcore/, protocols/,
native/ or bench/.

Modes
-----
* ``contiguous``: ``np.array_split`` of the rows in their given order into m
  chunks (sizes differ by at most one, larger chunks first).
* ``iid``: the same, after a permutation drawn from
  ``np.random.default_rng(seed)``.
* ``dirichlet``: non-iid by label.  For each class c (in increasing order)
  the class's points are permuted and proportions p ~ Dir(alpha * 1_m) are
  drawn; owner j gets the slice between ``floor(len_c * cumsum(p)[j-1])``
  and ``floor(len_c * cumsum(p)[j])``.  If some owner ends with fewer than 2
  points the whole draw is repeated (at most ``DIRICHLET_MAX_TRIES`` times,
  continuing the same rng stream), else ValueError("alpha too small for
  m").  Each owner's points are then permuted (so its validation hold-out
  is not all one class).  Small alpha -> very skewed labels; large alpha ->
  close to iid.

Validation hold-out rule
------------------------
Each owner keeps the LAST ``n_val = floor(len * val_fraction + 0.5)`` points
of its chunk (round half up), clamped to ``len - 1`` so every owner keeps at
least one training point.  ``floor`` would give 28 per owner for digits
(1437 points, m = 10 contiguous: 7 chunks of 144 and 3 of 143) = 280 in
total; the round-half-up rule gives 29 each = 290, which matches the
reference run (sklearn's ``ceil`` convention would also give 290 here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["OwnerData", "split_owners", "n_validation", "DIRICHLET_MAX_TRIES", "SPLIT_MODES"]

SPLIT_MODES = ("contiguous", "iid", "dirichlet")
DIRICHLET_MAX_TRIES = 1000
MIN_POINTS_PER_OWNER = 2


@dataclass
class OwnerData:
    """One data owner's local data.

    ``train_indices`` / ``val_indices`` are the row indices into the ``X``
    passed to :func:`split_owners` (useful for checking disjointness).
    """

    index: int
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    train_indices: np.ndarray = field(default=None, repr=False)
    val_indices: np.ndarray = field(default=None, repr=False)

    @property
    def n_train(self) -> int:
        return int(len(self.y_train))

    @property
    def n_val(self) -> int:
        return int(len(self.y_val))

    def __repr__(self) -> str:
        return f"OwnerData(index={self.index}, n_train={self.n_train}, n_val={self.n_val})"


def n_validation(chunk_len: int, val_fraction: float) -> int:
    """Validation points held out of a chunk of ``chunk_len`` points.

    ``floor(chunk_len * val_fraction + 0.5)`` (round half up), at most
    ``chunk_len - 1`` (and at least 0).
    """
    k = int(np.floor(chunk_len * val_fraction + 0.5))
    return max(0, min(k, chunk_len - 1))


def _dirichlet_chunks(y, m, alpha, n_classes, rng):
    class_idx = [np.flatnonzero(y == c) for c in range(n_classes)]
    for _ in range(DIRICHLET_MAX_TRIES):
        parts = [[] for _ in range(m)]
        for idx in class_idx:
            if len(idx) == 0:
                continue
            idx = idx[rng.permutation(len(idx))]
            p = rng.dirichlet(np.full(m, float(alpha)))
            cuts = np.floor(np.cumsum(p)[:-1] * len(idx)).astype(np.int64)
            cuts = np.clip(cuts, 0, len(idx))
            for j, piece in enumerate(np.split(idx, cuts)):
                parts[j].append(piece)
        sizes = [sum(len(a) for a in pj) for pj in parts]
        if min(sizes) >= MIN_POINTS_PER_OWNER:
            chunks = []
            for pj in parts:
                c = np.concatenate(pj)
                chunks.append(c[rng.permutation(len(c))])
            return chunks
    raise ValueError(
        f"dirichlet split: alpha={alpha} too small for m={m} owners: after "
        f"{DIRICHLET_MAX_TRIES} draws some owner still had fewer than "
        f"{MIN_POINTS_PER_OWNER} points; use a larger alpha or fewer owners")


def split_owners(X, y, m, mode="contiguous", alpha=None, val_fraction=0.2,
                 seed=0, n_classes=None) -> list[OwnerData]:
    """Split (X, y) among ``m`` owners; see the module docstring for the rules."""
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"y must be 1-D with len(X)={len(X)} entries, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError(f"m must be an int, got {type(m).__name__}")
    m = int(m)
    n = len(X)
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if m > n // 2:
        raise ValueError(f"m={m} too large: each owner needs >= 2 points, so m <= len(X)//2 = {n // 2}")
    if not (0.0 <= float(val_fraction) < 1.0):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if mode not in SPLIT_MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(SPLIT_MODES)}")
    if n_classes is None:
        n_classes = int(y.max()) + 1 if n else 0
    n_classes = int(n_classes)
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, n_classes={n_classes})")

    rng = np.random.default_rng(seed)
    if mode == "dirichlet":
        if alpha is None or not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"mode='dirichlet' needs a finite alpha > 0, got {alpha}")
        chunks = _dirichlet_chunks(y, m, alpha, n_classes, rng)
    else:
        if alpha is not None:
            raise ValueError(f"alpha is only used with mode='dirichlet' (mode={mode!r})")
        order = np.arange(n) if mode == "contiguous" else rng.permutation(n)
        chunks = np.array_split(order, m)

    owners = []
    for j, idx in enumerate(chunks):
        idx = np.asarray(idx, dtype=np.int64)
        k = n_validation(len(idx), val_fraction)
        tr, va = idx[:len(idx) - k], idx[len(idx) - k:]
        owners.append(OwnerData(index=j, X_train=X[tr], y_train=y[tr], X_val=X[va],
                                y_val=y[va], train_indices=tr, val_indices=va))
    return owners
