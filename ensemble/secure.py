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
             models batched, see ensemble.ml.forward). A model is right on
             a point with label y iff y is its argmax with ties to the
             lowest label, i.e. iff no label j beats y: z_j > z_y for
             j > y, z_j >= z_y for j < y. With one-hot Y, z_y = <z, Y> (one
             dot for all models and points), d_j = z_y - z_j - [j < y]
             ([j < y] = sum_{c > j} Y_c is linear in Y) and j beats y iff
             d_j < 0: ONE batched ltz over all (model, point, label), with
             bits = LOGIT_BITS + 1 (|z| < 2^31 for in-range fixed-point
             logits, so |d| < 2^32). wrong = sum_j [d_j < 0] in [0, C-1],
             right = [wrong - 1 < 0] (a 2-round ltz of a small count),
             correct_k = sum over V, keep_k = [correct_k >= T] with the
             public integer threshold T = ceil(phi * |V|)
             (ensemble.cleartext.threshold_count); keep bits stay secret.
             Exactly the cleartext rule, in 1 + 5 + 2 + 4 rounds after the
             logits (the argmax tournament took 4 x 7).
  inference  one-hot predictions of every model on every query ("hybrid"
             argmax of protocols.nonlinear: one tournament level, then all
             pairs of the C/2 winners in one ltz and one eqz of the lose
             counts; 15 comparisons for C = 10; ties to the lowest label),
             votes =
             sum_k keep_k * onehot_k (one dot over the models),
             label = argmax(votes) (pairwise, small bits; ties to the
             lowest label).
Every model is judged on all of V, its owner's part included (documented
choice: the owner's own validation points are as clean as anyone's in the
threat model, where poisoning targets training data).
Revealed: only what `reveal` lists: "labels" (predicted labels of the
queries), "votes" (vote counts, for certification), "kept" (number of models
kept), "filter" (each model's keep bit), all in one reveal (one round).
Imports protocols, mpcore, ensemble.ml.
"""
import numpy as np

from protocols.bounds import count_bits

from .ml.forward import LOGIT_BITS, secure_logits, stack
from .ml.packing import receive_upload, share_upload

DEFAULT_REVEAL = ("labels", "votes", "kept")
REVEAL_CHOICES = ("labels", "votes", "kept", "filter")


def _onehot(y, n_classes):
    out = np.zeros((len(y), n_classes), dtype=np.uint64)
    out[np.arange(len(y)), np.asarray(y, dtype=np.int64)] = 1
    return out


def owner_arrays(fx, model, X_val, y_val, n_classes):
    """Owner side: the ring arrays of one owner's upload (model parameters,
    validation features, one-hot validation labels)."""
    arrays = {}
    for j, (W, b) in enumerate(model.layers):
        arrays[f"W{j}"] = fx.encode(W)
        arrays[f"b{j}"] = fx.encode(b)
    arrays["X_val"] = fx.encode(X_val)
    arrays["Y_val"] = _onehot(y_val, n_classes)
    return arrays


def owner_upload(protocol_cls, fx, model, X_val, y_val, n_classes):
    """Owner side: payloads (one per party) and the public layout."""
    return share_upload(protocol_cls, owner_arrays(fx, model, X_val, y_val, n_classes))


def query_upload(protocol_cls, fx, X):
    return share_upload(protocol_cls, {"X": fx.encode(X)})


def vote_bits(m):
    """bits for votes - m // 2 (votes in [0, m]): |v - m // 2| <= m - m // 2."""
    return (m - m // 2).bit_length() + 1


def _labels_below(Y):
    """[j < y] for every label j of one-hot Y (..., C): sum_{c > j} Y_c
    (local, linear)."""
    rev = Y._map(lambda p: np.cumsum(p[..., ::-1], axis=-1, dtype=np.uint64)[..., ::-1])
    # rev[j] = sum_{c >= j} Y_c; shift by one: sum_{c > j} = rev[j + 1]
    return rev._map(lambda p: np.concatenate([p[..., 1:], np.zeros_like(p[..., :1])], axis=-1))


def filter_models(proto, Z, Y, threshold):
    """keep_k = [model k is right on >= threshold points] (secret 0/1, (m,)):
    Z (m, n, C) logits, Y (n, C) one-hot labels (module docstring)."""
    m, n, C = Z.shape
    Yb = Y.reshape(1, n, C).broadcast_to(Z.shape)
    zy = proto.dot(Z, Yb)                                                # (m, n)
    below = _labels_below(Y).reshape(1, n, C)
    d = proto.sub(proto.sub(zy.reshape(m, n, 1).broadcast_to(Z.shape), Z),
                  below.broadcast_to(Z.shape))                           # z_y - z_j - [j < y]
    beaten = proto.ltz(d, bits=LOGIT_BITS + 1)
    wrong = proto.sum(beaten, axis=-1)                                   # in [0, C - 1]
    right = proto.ltz(wrong - 1, bits=count_bits(C))                     # wrong == 0
    correct = proto.sum(right, axis=-1)                                  # (m,) in [0, n]
    T = int(threshold)
    span = max(T, n - T)                                                 # |correct - T| <= span
    return 1 - proto.ltz(correct - T, bits=span.bit_length() + 1)


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
        keep = filter_models(proto, secure_logits(proto, layers, X_val), Y_val, threshold)

    with led.scope("inference"):
        onehots = proto.argmax_onehot(secure_logits(proto, layers, queries), bits=LOGIT_BITS,
                                      method="hybrid")                     # (m, n_q, C)
        oh = onehots._map(lambda p: p.transpose(1, 2, 0))                  # (n_q, C, m)
        votes = proto.dot(oh, keep.reshape(1, 1, m).broadcast_to(oh.shape))  # (n_q, C)
        # votes in [0, m]: centred at m // 2 they are below 2^(b-1) for b =
        # vote_bits(m), so their differences fit b + 1 bits (2 rounds for m <= 15)
        labels = proto.argmax(votes - m // 2, bits=vote_bits(m), method="pairwise")

    out = {}
    with led.scope("reveal"):
        # everything requested in ONE reveal (one round)
        items = [(name, v) for name, v in (("labels", labels), ("votes", votes),
                                           ("kept", proto.sum(keep)), ("filter", keep))
                 if name in reveal]
        if items:
            opened = proto.reveal(proto.flat_concat([v for _, v in items]))
            pos = 0
            for name, v in items:
                val = opened[pos:pos + v.size].reshape(v.shape)
                pos += v.size
                out[name] = (int(val) if name == "kept" else
                             val.astype(bool) if name == "filter" else val.astype(np.int64))
    return out
