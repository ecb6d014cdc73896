"""Payloads of external data owners (clients that are not parties): the
validation every replicated protocol's `receive_external` shares. Imports
mpcore.

`share_external(value)` runs at the owner and gives one payload per party:
{"shape": shape, "slots": ((kind, content), ...)}, one entry per slot the
party holds, in the order of its `parts`: kind "seed" (content: a 16-byte
PRG seed; the slot is that seed's stream) or "data" (content: the slot
itself, a uint64 array of the shape). What a party must check beyond the
payload's form (rep4: that the other holders of each slot got the same)
is the protocol's.
"""
from typing import NamedTuple

import numpy as np

from mpcore.prg import KEY_BYTES, Prg
from mpcore.ring import as_ring_array


class ExternalSlot(NamedTuple):
    kind: str                 # "seed" or "data"
    content: object           # the seed (bytes) or the slot's array
    value: np.ndarray         # the slot: the seed's stream, or the data


def parse_external(payload, n_slots, op_name="receive_external"):
    """Validate one party's payload and rebuild its slots: returns
    ([ExternalSlot] in payload order, upload bytes: the seeds' and the data's
    bytes). A malformed payload raises ValueError naming `op_name`."""
    try:
        shape = tuple(payload["shape"])
        entries = list(payload["slots"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{op_name}: malformed owner payload ({exc})") from None
    if len(entries) != n_slots:
        raise ValueError(f"{op_name}: expected {n_slots} slots, got {len(entries)}")
    slots, nbytes = [], 0
    for kind, content in entries:
        if kind == "seed":
            if not isinstance(content, (bytes, bytearray)) or len(content) != KEY_BYTES:
                raise ValueError(f"{op_name}: a seed must be {KEY_BYTES} bytes")
            content = bytes(content)
            slots.append(ExternalSlot(kind, content, Prg(content, name="owner").next_like(shape)))
            nbytes += len(content)
        elif kind == "data":
            arr = as_ring_array(content, "owner payload")
            if arr.shape != shape:
                raise ValueError(f"{op_name}: payload slot has shape {arr.shape}, "
                                 f"expected {shape}")
            slots.append(ExternalSlot(kind, arr, arr))
            nbytes += arr.nbytes
        else:
            raise ValueError(f"{op_name}: unknown slot kind {kind!r}")
    return slots, nbytes
