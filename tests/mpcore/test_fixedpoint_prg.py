"""Fixed-point configuration bounds and errors; PRG streams."""
import numpy as np
import pytest
from hypothesis import given

from mpcore.errors import EncodingError
from mpcore.fixedpoint import DEFAULT, FixedPoint
from mpcore.prg import Prg
from protocols.testing import strategies as S


@given(S.fixed_point_arrays((7,)))
def test_encode_decode_roundtrip(x):
    back = DEFAULT.decode(DEFAULT.encode(x))
    assert np.all(np.abs(back - x) <= DEFAULT.resolution / 2)


@pytest.mark.parametrize("bad,msg", [
    (np.nan, "NaN and inf"), (np.inf, "NaN and inf"), (-np.inf, "NaN and inf"),
    (32768.0, r"out of range: \|x\| must be < 2\^15"), (-1e9, "out of range")])
def test_encode_rejects(bad, msg):
    with pytest.raises(EncodingError, match=msg):
        DEFAULT.encode(np.array([0.0, bad]))


def test_derived_bounds():
    fx = FixedPoint()
    assert fx.product_bits == 62 and fx.max_value == 2**15
    assert fx.trunc_failure_probability(30) == 2.0**-33
    assert fx.safe_product_bound(2.0**-30) == 2.0
    with pytest.raises(ValueError, match="headroom"):
        FixedPoint(frac_bits=20, int_bits=12)


def test_prg_streams_never_repeat_and_are_reproducible():
    k = bytes(range(16))
    a, b = Prg(k), Prg(k)
    first, second = a.next(5), a.next(5)
    assert not np.array_equal(first, second)
    # counters advance by whole blocks: a second call never reuses a block
    assert np.array_equal(b.next(6)[:5], first) and not np.isin(second, first).any()
    c = Prg(k)
    assert np.array_equal(c.next(6)[:5], Prg(k).next(5))
    assert a.counter == 6      # 3 blocks per call of 5 elements (odd sizes round up)
