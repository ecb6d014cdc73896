"""Owner payloads (protocols.external): what rep3's and rep4's
receive_external accept, and every malformed payload they refuse."""
import re

import numpy as np
import pytest

from protocols.external import parse_external
from protocols.rep3 import Rep3
from protocols.rep4 import Rep4

V = np.arange(6, dtype=np.uint64).reshape(2, 3)


@pytest.mark.parametrize("cls", [Rep3, Rep4])
def test_payloads_of_share_external_parse_back_to_the_value(cls):
    payloads = cls.share_external(V)
    holders = {}                        # slot -> its value, the same at every holder
    for i, payload in enumerate(payloads):
        slots, nbytes = parse_external(payload, cls.slots_per_party)
        assert nbytes == sum(16 if s.kind == "seed" else V.nbytes for s in slots)
        for pos, slot in enumerate(slots):
            assert slot.value.shape == V.shape and slot.value.dtype == np.uint64
            j = (i + pos) % 3 if cls is Rep3 else (i + 1 + pos) % 4
            if j in holders:
                np.testing.assert_array_equal(holders[j], slot.value)
            holders[j] = slot.value
    np.testing.assert_array_equal(sum(holders.values()), V)


@pytest.mark.parametrize("payload, message", [
    (None, "malformed owner payload"),
    ({"slots": ()}, "malformed owner payload"),
    ({"shape": (2, 3), "slots": (("seed", bytes(16)),)}, "expected 2 slots, got 1"),
    ({"shape": (2, 3), "slots": (("seed", bytes(15)), ("seed", bytes(16)))},
     "a seed must be 16 bytes"),
    ({"shape": (2, 3), "slots": (("seed", "x" * 16), ("seed", bytes(16)))},
     "a seed must be 16 bytes"),
    ({"shape": (3, 2), "slots": (("seed", bytes(16)), ("data", V))}, "has shape (2, 3)"),
    ({"shape": (2, 3), "slots": (("seed", bytes(16)), ("text", V))}, "unknown slot kind 'text'"),
])
def test_malformed_payloads_are_refused(payload, message):
    with pytest.raises(ValueError, match="receive_external: .*" + re.escape(message)):
        parse_external(payload, 2)


def test_data_must_be_ring_elements():
    with pytest.raises(TypeError, match="owner payload"):
        parse_external({"shape": (2, 3), "slots": (("data", V.astype(np.int64)),)}, 1)
