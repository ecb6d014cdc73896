"""Privacy of views: what one party receives must not depend on the secret.

`received_words(protocol, program, party, runs)` runs `program(proto)` many
times and collects every uint64 word `party` receives (through a network
wrapper, so it works for any protocol and transport). `views_differ`
compares the views under two secrets with a two-sample Kolmogorov-Smirnov
test on the words (as fractions of 2^64) and a per-bit-position chi-square
test; a masked protocol gives p-values that are not small, a leaking one
gives tiny p-values. Imports mpcore, protocols, numpy, scipy.
"""
import numpy as np


def received_words(protocol, program, party, runs=50, **run_kw):
    import protocols
    words = []

    def wrapper(pid, net):
        if pid == party:
            original = net.recv_bytes

            def recv_bytes(peer, nbytes=None):
                data = original(peer, nbytes)
                if len(data) % 8 == 0:
                    words.append(np.frombuffer(bytes(data), dtype=np.uint64).copy())
                return data
            net.recv_bytes = recv_bytes
        return net

    for _ in range(runs):
        protocols.run(program, protocol, net_wrapper=wrapper, **run_kw)
    return np.concatenate(words) if words else np.zeros(0, np.uint64)


def _bit_counts(words):
    bits = (words[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
    return bits.sum(axis=0).astype(np.float64)


def views_differ(words_a, words_b, alpha=1e-3):
    """(differ: bool, p_values: dict). Two tests, Bonferroni-corrected."""
    from scipy import stats
    fa = words_a.astype(np.float64) / 2.0**64
    fb = words_b.astype(np.float64) / 2.0**64
    p_ks = float(stats.ks_2samp(fa, fb).pvalue)
    ca, cb = _bit_counts(words_a), _bit_counts(words_b)
    table = np.stack([np.stack([ca, len(words_a) - ca]), np.stack([cb, len(words_b) - cb])])
    p_bits = 1.0
    for k in range(64):
        t = table[:, :, k]
        if (t.sum(axis=0) > 0).all() and (t.sum(axis=1) > 0).all():
            p_bits = min(p_bits, float(stats.chi2_contingency(t)[1]) * 64)
    p_bits = min(1.0, p_bits)
    return (min(p_ks, p_bits) < alpha / 2), {"ks": p_ks, "bits": p_bits}
