"""Shared fixtures for the cleartext SafeNet tests (tests/ensemble).

Test modules here are named test_ensemble_*.py so their basenames cannot
collide with other test directories (there is no __init__.py here: a package
named ``ensemble`` under tests/ would shadow the real ``ensemble`` package).
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ensemble.data import load_dataset  # noqa: E402
from ensemble.splits import split_owners  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def breast_cancer():
    return load_dataset("breast_cancer", seed=0)


@pytest.fixture(scope="session")
def digits_owners(digits):
    return split_owners(digits.X_train, digits.y_train, 10, mode="contiguous",
                        val_fraction=0.2, seed=0)
