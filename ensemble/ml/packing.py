"""Owner side and party side of an upload: several arrays encoded into one
ring vector, secret-shared by the protocol's `share_external`, and cut back
into shaped sharings on the parties. The layout (names and shapes) is
public; the values are not. Imports mpcore, numpy.
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Public description of an upload: (name, shape) of each array."""
    entries: tuple

    @property
    def size(self):
        return sum(int(np.prod(s, dtype=np.int64)) for _, s in self.entries)

    def names(self):
        return [n for n, _ in self.entries]


def pack(arrays: dict):
    """{name: uint64 array} -> (flat uint64 vector, Layout)."""
    entries, flats = [], []
    for name, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint64:
            raise TypeError(f"pack: {name} must be a uint64 array (encode it first)")
        entries.append((name, tuple(arr.shape)))
        flats.append(arr.reshape(-1))
    flat = np.concatenate(flats) if flats else np.zeros(0, np.uint64)
    return flat, Layout(tuple(entries))


def share_upload(protocol_cls, arrays: dict):
    """Owner side: one payload per party and the public layout."""
    flat, layout = pack(arrays)
    return protocol_cls.share_external(flat), layout


def receive_upload(proto, payload, layout) -> dict:
    """Party side: {name: Shared} from this party's payload (layout: a
    Layout or its entries)."""
    if not isinstance(layout, Layout):
        layout = Layout(tuple((name, tuple(int(s) for s in shape)) for name, shape in layout))
    flat = proto.receive_external(payload)
    if flat.size != layout.size:
        raise ValueError(f"upload has {flat.size} elements, layout expects {layout.size}")
    pieces = proto.split(flat, [s for _, s in layout.entries])
    return dict(zip(layout.names(), pieces))


def make_uploads(protocol_cls, owner_arrays: list, query_arrays: dict):
    """Owners' and querier's side of a run: every owner's arrays and the
    querier's, each shared as one upload. Returns (inputs, owner layouts,
    query layout): inputs[i] = (party i's payload of every owner, party i's
    payload of the queries), layouts as plain (name, shape) tuples."""
    ups = [share_upload(protocol_cls, arrays) for arrays in owner_arrays]
    q_payloads, q_layout = share_upload(protocol_cls, query_arrays)
    inputs = [([payloads[i] for payloads, _ in ups], q_payloads[i])
              for i in range(protocol_cls.n_parties)]
    return inputs, tuple(lay.entries for _, lay in ups), q_layout.entries
