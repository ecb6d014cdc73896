"""SafeNet inside MPC: filtering by validation accuracy and filtered voting
on secret-shared models, validation data and queries.

Owner side (runs at each data owner, in the clear, on its own data only):
`owner_upload` encodes the owner's model parameters and its validation set
(features in fixed point, labels as one-hot 0/1 ring elements) into ONE
upload, secret-shared with the protocol's external-input sharing. A querier
uploads the test queries the same way (`query_upload`).

Party side (`safenet_program`, runs on every MPC party):
  share      receive every owner's upload and the queries;
  filter     run all m models on the union V of the validation sets (all
             models batched, see ensemble.ml.forward), one-hot of each
             model's argmax per point, correct_k = <onehot_k, Y> (one dot
             for all models), keep_k = [correct_k >= T] with the public
             integer threshold T = ceil(phi * |V|) (ensemble.cleartext
             .threshold_count); keep bits stay secret;
  inference  one-hot predictions of every model on every query, votes =
             sum_k keep_k * onehot_k, label = argmax(votes) (ties to the
             lowest label).
Every model is judged on all of V, its owner's part included (documented
choice: the owner's own validation points are as clean as anyone's in the
threat model, where poisoning targets training data).
Revealed: only what `reveal` lists: "labels" (predicted labels of the
queries), "votes" (vote counts, for certification), "kept" (number of models
kept), "filter" (each model's keep bit). Imports protocols, mpcore, ensemble.ml.
"""
import numpy as np

from .ml.forward import secure_logits, stack
from .ml.packing import receive_upload, share_upload

DEFAULT_REVEAL = ("labels", "votes", "kept")
REVEAL_CHOICES = ("labels", "votes", "kept", "filter")


def _onehot(y, n_classes):
    out = np.zeros((len(y), n_classes), dtype=np.uint64)
    out[np.arange(len(y)), np.asarray(y, dtype=np.int64)] = 1
    return out


def owner_upload(protocol_cls, fx, model, X_val, y_val, n_classes):
    """Owner side: payloads (one per party) and the public layout."""
    arrays = {}
    for j, (W, b) in enumerate(model.layers):
        arrays[f"W{j}"] = fx.encode(W)
        arrays[f"b{j}"] = fx.encode(b)
    arrays["X_val"] = fx.encode(X_val)
    arrays["Y_val"] = _onehot(y_val, n_classes)
    return share_upload(protocol_cls, arrays)


def query_upload(protocol_cls, fx, X):
    return share_upload(protocol_cls, {"X": fx.encode(X)})


def safenet_program(proto, owner_payloads, owner_layouts, query_payload, query_layout,
                    n_layers, threshold, reveal=DEFAULT_REVEAL):
    """Runs on every party. owner_payloads[k] is THIS party's payload of
    owner k. Returns a dict with the requested revealed values."""
    led = proto.ledger
    with led.scope("share"):
        uploads = [receive_upload(proto, pl, lay) for pl, lay in zip(owner_payloads, owner_layouts)]
        queries = receive_upload(proto, query_payload, query_layout)["X"]
    layers = [(stack([u[f"W{j}"] for u in uploads]), stack([u[f"b{j}"] for u in uploads]))
              for j in range(n_layers)]
    from mpcore.shares import concatenate
    X_val = concatenate([u["X_val"] for u in uploads], axis=0)
    Y_val = concatenate([u["Y_val"] for u in uploads], axis=0)
    m = len(uploads)
    n_val, n_classes = Y_val.shape

    with led.scope("filter"):
        pred = proto.argmax_onehot(secure_logits(proto, layers, X_val))      # (m, n_val, C)
        correct = proto.dot(pred.reshape(m, n_val * n_classes),
                            Y_val.reshape(1, n_val * n_classes))            # (m,)
        keep = 1 - proto.ltz(correct - int(threshold))                       # [correct >= T]

    with led.scope("inference"):
        onehots = proto.argmax_onehot(secure_logits(proto, layers, queries))  # (m, n_q, C)
        weighted = proto.mul(onehots, keep.reshape(m, 1, 1))
        votes = proto.sum(weighted, axis=0)                                 # (n_q, C)
        labels = proto.argmax(votes)

    out = {}
    with led.scope("reveal"):
        if "labels" in reveal:
            out["labels"] = proto.reveal(labels).astype(np.int64)
        if "votes" in reveal:
            out["votes"] = proto.reveal(votes).astype(np.int64)
        if "kept" in reveal:
            out["kept"] = int(proto.reveal(proto.sum(keep)))
        if "filter" in reveal:
            out["filter"] = proto.reveal(keep).astype(bool)
    return out
