"""What the data owners hand to each party, as files: the hand-off between
`safenet owners` (the owners' and querier's side) and `safenet party ...
train/compare --uploads DIR` (one MPC party on its own host).

A run is described by a Plan: `inputs[i]` is party i's private input (its
payloads of every owner's upload and of the querier's), `public` what every
party may know (layouts, threshold, data order, initial weights, ...), and
`evaluation` what the querier keeps to score the revealed labels (test
labels and the cleartext reference figures). On disk:

    DIR/<mode>/party{i}.npz    party i's inputs + the public part: copy to host i only
    DIR/<mode>/evaluation.npz  the querier's scoring data (never a party's input)

Files are .npz written and read with allow_pickle=False: a JSON skeleton
plus the arrays it points to, so loading a file never runs code from it.
Imports numpy only.
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "safenet-bundle/1"


@dataclass
class Plan:
    mode: str                   # "ensemble" or "monolithic"
    protocol: str
    inputs: list                # per party: tuple of that party's program arguments
    public: dict
    evaluation: dict = field(default_factory=dict)

    @property
    def n_parties(self):
        return len(self.inputs)


class BundleError(ValueError):
    """A hand-off file is missing, malformed or for another run."""


# ---- a tree of dicts/lists/tuples/arrays/bytes/scalars <-> npz ------------------------------
def _encode(obj, arrays):
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("bundle: object arrays cannot be stored (they would need pickle)")
        arrays.append(obj)
        return {"__array__": len(arrays) - 1}
    if isinstance(obj, (bytes, bytearray)):
        return {"__bytes__": bytes(obj).hex()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError("bundle: dictionary keys must be strings")
        return {"__dict__": {k: _encode(v, arrays) for k, v in obj.items()}}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"bundle: cannot store a {type(obj).__name__}")


def _decode(node, arrays):
    if isinstance(node, list):
        return [_decode(v, arrays) for v in node]
    if isinstance(node, dict):
        if "__array__" in node:
            return arrays[f"a{int(node['__array__'])}"]
        if "__bytes__" in node:
            return bytes.fromhex(node["__bytes__"])
        if "__tuple__" in node:
            return tuple(_decode(v, arrays) for v in node["__tuple__"])
        if "__dict__" in node:
            return {k: _decode(v, arrays) for k, v in node["__dict__"].items()}
        raise BundleError(f"bundle: unknown node {sorted(node)}")
    return node


def save_tree(path, tree):
    arrays = []
    skeleton = json.dumps({"format": FORMAT, "tree": _encode(tree, arrays)})
    named = {f"a{i}": a for i, a in enumerate(arrays)}
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, skeleton=np.frombuffer(skeleton.encode(), np.uint8), **named)
    os.replace(tmp, path)


def load_tree(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            skeleton = json.loads(bytes(z["skeleton"]).decode())
            if skeleton.get("format") != FORMAT:
                raise BundleError(f"{path}: not a {FORMAT} file (format {skeleton.get('format')!r})")
            arrays = {k: z[k] for k in z.files if k != "skeleton"}
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file (make the hand-off files with `safenet owners`)") \
            from None
    except (OSError, ValueError, KeyError) as exc:
        if isinstance(exc, BundleError):
            raise
        raise BundleError(f"{path}: not a readable hand-off file ({exc})") from None
    return _decode(skeleton["tree"], arrays)


# ---- plans <-> directories ---------------------------------------------------------------------
def party_path(root, mode, party_id):
    return Path(root) / mode / f"party{party_id}.npz"


def evaluation_path(root, mode):
    return Path(root) / mode / "evaluation.npz"


def write_plan(root, plan: Plan):
    """Write one file per party and the querier's evaluation file."""
    d = Path(root) / plan.mode
    d.mkdir(parents=True, exist_ok=True)
    head = {"mode": plan.mode, "protocol": plan.protocol, "n_parties": plan.n_parties,
            "run_id": os.urandom(8).hex()}
    paths = []
    for i, inputs in enumerate(plan.inputs):
        p = party_path(root, plan.mode, i)
        save_tree(p, dict(head, party=i, inputs=tuple(inputs), public=plan.public))
        paths.append(p)
    save_tree(evaluation_path(root, plan.mode), dict(head, evaluation=plan.evaluation,
                                                     public=plan.public))
    return paths


def read_plan(root, mode, protocol, parties, n_parties):
    """The Plan as seen by `parties` (the ids whose files this host holds):
    inputs of other parties are None. The querier's evaluation file is read
    only where party 0 (the party that writes the results) runs, and only
    if present; else evaluation is {} and the report carries the revealed
    labels unscored. Raises BundleError when a file is for another run."""
    inputs, public, run_id = [None] * n_parties, None, None
    for i in parties:
        path = party_path(root, mode, i)
        tree = load_tree(path)
        run_id = _expect(tree, path, mode, protocol, n_parties, run_id)
        if tree.get("party") != i:
            raise BundleError(f"{path} holds party {tree.get('party')}'s inputs, not party {i}'s")
        inputs[i] = tree["inputs"]
        public = tree["public"]
    evaluation = {}
    ep = evaluation_path(root, mode)
    if 0 in parties and ep.exists():        # the reporting party scores, if given the file
        tree = load_tree(ep)
        _expect(tree, ep, mode, protocol, n_parties, run_id)
        evaluation = tree["evaluation"]
    return Plan(mode, protocol, inputs, public, evaluation)


def _expect(tree, path, mode, protocol, n_parties, run_id):
    """Check a file's header against the run; returns its run id."""
    if run_id is not None and tree.get("run_id") != run_id:
        raise BundleError(f"{path}: made by another `safenet owners` run than the other files "
                          f"(run id {tree.get('run_id')} vs {run_id})")
    if tree.get("mode") != mode:
        raise BundleError(f"{path}: made for --mode {tree.get('mode')}, not {mode}")
    if tree.get("protocol") != protocol:
        raise BundleError(f"{path}: made for --protocol {tree.get('protocol')}, not {protocol} "
                          f"(rerun `safenet owners --protocol {protocol}`)")
    if tree.get("n_parties") != n_parties:
        raise BundleError(f"{path}: made for {tree.get('n_parties')} parties, not {n_parties}")
    return tree.get("run_id")
