"""AES-CTR pseudo-random streams with explicit counters. Imports kernels.

A `Prg` turns a 128-bit key into ring elements: block i of the stream is
AES_key(nonce || counter + i) and each 16-byte block yields two uint64
elements. The counter only moves forward, so no block is ever produced twice
for a (key, nonce) pair. Parties that share a key stay in step because the
protocol draws from each shared stream in the same order on every holder;
`position` is exposed so a desync can be diagnosed. Small draws come from a
buffer of keystream expanded ahead (the same elements at the same counter:
only the per-draw AES call is saved).
"""
import hashlib
import math
import secrets

import numpy as np

from .kernels import native

KEY_BYTES = 16


def fresh_key() -> bytes:
    """A key from the operating system's CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def test_mode_key(seed: int, label: str) -> bytes:
    """INSECURE, tests only: a key derived from a public seed and a label, so a
    run can be reproduced exactly. Enabled only by an explicit `test_seed`."""
    return hashlib.sha256(f"safenet-test-seed/{seed}/{label}".encode()).digest()[:KEY_BYTES]


BUFFER_BLOCKS = 2048        # blocks expanded ahead for small draws (4096 elements)


class Prg:
    """Small draws are served from a buffer of keystream expanded ahead
    (BUFFER_BLOCKS blocks at a time): the same elements as a direct
    expansion at the same counter, so holders of a key stay in step however
    their draws are split; only the AES call per draw is saved."""
    __slots__ = ("key", "nonce", "counter", "name", "_buf", "_buf_block")

    def __init__(self, key: bytes, nonce: int = 0, name: str = ""):
        if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
            raise ValueError(f"Prg {name!r}: key must be {KEY_BYTES} bytes")
        self.key = bytes(key)
        self.nonce = nonce
        self.counter = 0  # in AES blocks
        self.name = name
        self._buf = None        # keystream from block _buf_block on
        self._buf_block = 0

    def next(self, n: int) -> np.ndarray:
        """The next n ring elements of the stream."""
        n = int(n)
        if n <= BUFFER_BLOCKS:
            buf, off = self._buf, 2 * (self.counter - self._buf_block)
            if buf is None or off < 0 or off + n > buf.size:
                self._buf = buf = native.aes_ctr(self.key, self.nonce, self.counter,
                                                 2 * BUFFER_BLOCKS)
                self._buf_block, off = self.counter, 0
            out = buf[off:off + n].copy()
        else:
            out = native.aes_ctr(self.key, self.nonce, self.counter, n)
        self._advance(n)
        return out

    def next_like(self, shape) -> np.ndarray:
        return self.next(math.prod(shape) if isinstance(shape, tuple) else
                         int(np.prod(shape, dtype=np.int64))).reshape(shape)

    def next_into(self, out: np.ndarray) -> np.ndarray:
        out[...] = self.next(out.size).reshape(out.shape)
        return out

    def _advance(self, n: int):
        self.counter += (n + 1) // 2
        if self.counter >= 1 << 64:
            raise OverflowError(f"Prg {self.name!r}: counter exhausted; re-key the session")

    @property
    def position(self):
        return (self.name, self.counter)
