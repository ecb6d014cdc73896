"""Bit packing for the boolean (XOR) sharings of every protocol: pure
functions on uint64 arrays. Applied slot by slot they are linear over GF(2),
so they work on shares as well as on public values. Imports mpcore.

  pack_bits / unpack_bits   one bit per element <-> dense bit vector (bit e
                            in word e // 64, little-endian)
  pack_fields               one `width`-bit field per element -> dense
  deinterleave              even and odd bits of a dense vector, each dense
  gather4                   bits 0, 4, ..., 60 of each word -> a 16-bit value
"""
import numpy as np

from mpcore.ring import DTYPE

ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_EVEN = [(1, 0x3333333333333333), (2, 0x0F0F0F0F0F0F0F0F), (4, 0x00FF00FF00FF00FF),
         (8, 0x0000FFFF0000FFFF), (16, 0x00000000FFFFFFFF)]


def u64(k):
    return np.uint64(k)


def words_for(nbits):
    """Words in a dense vector of `nbits` bits."""
    return -(-int(nbits) // 64)


def pack_bits(bits):
    """0/1 values (any integer dtype; flattened) -> dense uint64 bit vector
    (bit e in word e // 64)."""
    bits = np.ascontiguousarray(bits, dtype=np.uint8).reshape(-1)
    packed = np.packbits(bits, bitorder="little")
    out = np.zeros(words_for(bits.size) * 8, dtype=np.uint8)
    out[:packed.size] = packed
    return out.view(DTYPE)


def unpack_bits(words, n):
    """Dense uint64 bit vector -> its first n bits as uint64 0/1 values."""
    words = np.ascontiguousarray(words, dtype=DTYPE)
    return np.unpackbits(words.view(np.uint8), bitorder="little", count=n).astype(DTYPE)


def pack_fields(values, width):
    """One `width`-bit field per element (width 1, 2, 4, 8, 16 or 32, in the
    low bits of uint64 values) -> dense vector, element e at bits width*e..."""
    v = np.ascontiguousarray(values, dtype=DTYPE).reshape(-1)
    n = v.size
    if width == 1:
        return pack_bits(v & u64(1))
    if width in (8, 16, 32):
        t = {8: np.uint8, 16: np.uint16, 32: np.uint32}[width]
        per = 64 // width
        out = np.zeros(words_for(width * n) * per, dtype=t)
        out[:n] = v
        return out.view(DTYPE)
    per = 8 // width                     # elements per byte (width 2 or 4)
    padded = np.zeros(-(-n // per) * per, dtype=np.uint8)
    padded[:n] = v
    padded = padded.reshape(-1, per)
    byte = padded[:, 0].copy()
    for k in range(1, per):
        byte |= padded[:, k] << np.uint8(width * k)
    out = np.zeros(words_for(width * n) * 8, dtype=np.uint8)
    out[:byte.size] = byte
    return out.view(DTYPE)


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
