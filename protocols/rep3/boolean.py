"""Rep3 boolean (XOR) sharing over packed 64-bit words, and the bit-packing
helpers the comparison circuits use. Imports mpcore, protocols.base.

Sharing: a word array b = b0 ^ b1 ^ b2; party i holds (b_i, b_{i+1}), the
same slot layout (and the same pair keys) as the arithmetic sharing. Each
uint64 word carries 64 independent bits, so one AND "gate" on a word is 64
ANDs. A boolean value is a `BoolShared` (protocols.base), which arithmetic
ops refuse.

Ops (rounds, 64-bit words sent by each party):
  xor, xor_public, and_public, not_, shl_bits, shr_bits   local   (0, 0)
  and_      z_i = x_i&y_i ^ x_i&y_{i+1} ^ x_{i+1}&y_i ^ a_i, a_i the XOR
            zero share (F(k_next) ^ F(k_prev)); z_i goes to party i-1:
                                                          (1, words)
  and_many  several AND pairs, one round                  (1, sum of words)
  reveal_bits  party i sends slot i+1 to party i-1        (1, words)
  input_bits   like arithmetic input, XOR instead of +    (1, 2*words by the owner)

Packing helpers (pure functions on uint64 arrays, used slot by slot, so
linear over GF(2) and applicable to shares): `pack_bits` / `unpack_bits`
(one bit per element <-> dense bit vectors, bit e of the vector in word
e // 64, little-endian), `deinterleave` (even and odd bits of a dense
vector, each again dense), `gather4` (bits 0, 4, 8, ... 60 of each word ->
a 16-bit value).
"""
import numpy as np

from mpcore.kernels import native
from mpcore.ring import DTYPE, as_ring_array
from protocols.base import broadcast_shape, op
from protocols.boolean_local import BooleanLocal

ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_EVEN = [(1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F), (4, 0x00FF00FF00FF00FF),
         (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)]


def u64(k):
    return np.uint64(k)


def words_for(nbits):
    """Words in a dense vector of `nbits` bits."""
    return -(-int(nbits) // 64)


def pack_bits(bits):
    """0/1 values (any integer dtype, 1-D) -> dense uint64 bit vector."""
    bits = np.ascontiguousarray(bits, dtype=np.uint8).reshape(-1)
    n = bits.size
    packed = np.packbits(bits, bitorder="little")
    out = np.zeros(words_for(n) * 8, dtype=np.uint8)
    out[:packed.size] = packed
    return out.view(DTYPE)


def unpack_bits(words, n):
    """Dense uint64 bit vector -> the first n bits as uint64 0/1 values."""
    words = np.ascontiguousarray(words, dtype=DTYPE)
    return np.unpackbits(words.view(np.uint8), bitorder="little", count=n).astype(DTYPE)


def _compress_even(x):
    """Even bits of each word -> low 32 bits (odd bits ignored)."""
    x = x & u64(0x5555555555555555)
    for shift, mask in _EVEN:
        x = (x | (x >> u64(shift))) & u64(mask)
    return x


def deinterleave(words):
    """Dense vector v -> (even, odd) with even[j] = v[2j], odd[j] = v[2j+1],
    each dense with ceil(len(words) / 2) words."""
    words = np.ascontiguousarray(words, dtype=DTYPE)
    if words.size % 2:
        words = np.concatenate([words, np.zeros(1, DTYPE)])
    even = _compress_even(words).astype(np.uint32).view(DTYPE)
    odd = _compress_even(words >> u64(1)).astype(np.uint32).view(DTYPE)
    return even, odd


def gather4(x):
    """Bits 4g (g = 0..15) of each word -> a 16-bit value (bit g)."""
    x = x & u64(0x1111111111111111)
    x = (x | (x >> u64(3))) & u64(0x0303030303030303)
    x = (x | (x >> u64(6))) & u64(0x000F000F000F000F)
    x = (x | (x >> u64(12))) & u64(0x000000FF000000FF)
    x = (x | (x >> u64(24))) & u64(0x000000000000FFFF)
    return x


def pack16(values):
    """16-bit values (one per element) -> dense vector, element e at bits
    16e..16e+15."""
    v = np.ascontiguousarray(values).astype(np.uint16).reshape(-1)
    out = np.zeros(words_for(16 * v.size) * 4, dtype=np.uint16)
    out[:v.size] = v
    return out.view(DTYPE)


class Rep3Boolean(BooleanLocal):
    # (containers, checks and local ops: protocols.boolean_local)
    def zero_bits(self, shape):
        """XOR sharing of zero: party i's a_i (the XOR over parties is 0)."""
        return self.k_next.next_like(shape) ^ self.k_prev.next_like(shape)

    # ---- AND gates ---------------------------------------------------------------
    def _and_local(self, x, y, op_name):
        shape = broadcast_shape(op_name, x.shape, y.shape)
        flat = [np.ascontiguousarray(np.broadcast_to(p, shape)).reshape(-1)
                for p in x.parts + y.parts]
        zero = self.zero_bits(flat[0].shape)
        return native.and_cross3(*flat, zero=zero).reshape(shape)

    def _reshare_bits(self, z):
        """3-out-of-3 XOR z_i -> replicated (z_i, z_{i+1}). 1 round."""
        self.net.send(self.prev_party, z)
        z_next = self.net.recv(self.next_party, z.size).reshape(z.shape)
        return self.wrap_bits((z, z_next))

    @op("and_", lambda self, x, y: self.each(np.prod(np.broadcast_shapes(x.shape, y.shape))))
    def and_(self, x, y):
        """Bitwise AND of two boolean sharings (64 gates per word)."""
        self._mine_bits(x, "and_"), self._mine_bits(y, "and_", "y")
        return self._reshare_bits(self._and_local(x, y, "and_"))

    @op("and_many", lambda self, pairs: self.each(
        sum(int(np.prod(np.broadcast_shapes(x.shape, y.shape))) for x, y in pairs)))
    def and_many(self, pairs):
        """Several (x, y) AND pairs of any shapes in one round."""
        if not pairs:
            return []
        zs = [self._and_local(self._mine_bits(x, "and_many"), self._mine_bits(y, "and_many", "y"),
                              "and_many") for x, y in pairs]
        joint = self._reshare_bits(np.concatenate([z.reshape(-1) for z in zs]))
        out, pos = [], 0
        for z in zs:
            out.append(self.wrap_bits(p[pos:pos + z.size].reshape(z.shape) for p in joint.parts))
            pos += z.size
        return out

    # ---- input / output ------------------------------------------------------------
    @op("input_bits", lambda self, value, owner, shape=None: self.only(
        owner, 2 * (value.size if value is not None else int(np.prod(shape)))))
    def input_bits(self, value, owner, shape=None):
        """Boolean-share words given by party `owner` (the others pass None and
        the shape): slots owner and owner+1 from the owner's pair keys, the
        third slot (value ^ both) sent to its two holders."""
        i = self.party_id
        if owner not in (0, 1, 2):
            raise ValueError(f"input_bits: owner must be a party id in 0..2, got {owner}")
        if i == owner:
            value = as_ring_array(value, "input_bits value")
            shape = value.shape
        elif shape is None:
            raise ValueError(f"input_bits: party {i} is not the owner and must pass the shape")
        shape = tuple(shape)
        n = int(np.prod(shape))
        if i == owner:
            x_own = self.k_prev.next_like(shape)
            x_next = self.k_next.next_like(shape)
            masked = value ^ x_own ^ x_next
            self.net.send(self.next_party, masked)
            self.net.send(self.prev_party, masked)
            return self.wrap_bits((x_own, x_next))
        masked = self.net.recv(owner, n).reshape(shape)
        if i == (owner + 1) % 3:
            return self.wrap_bits((self.k_prev.next_like(shape), masked))
        return self.wrap_bits((masked, self.k_next.next_like(shape)))

    @op("reveal_bits", lambda self, x: self.each(x.size))
    def reveal_bits(self, x):
        """Open a boolean sharing to every party (uint64 words)."""
        self._mine_bits(x, "reveal_bits")
        self.net.send(self.prev_party, np.ascontiguousarray(x.parts[1]))
        missing = self.net.recv(self.next_party, x.size).reshape(x.shape)
        return x.parts[0] ^ x.parts[1] ^ missing
