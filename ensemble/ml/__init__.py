"""Secure ML on the protocol interface (layer 4): fixed-point models on
secret-shared data. Modules: packing (owner-side encoding and sharing of
several arrays in one upload), forward (batched secure inference of many
models). Imports protocols and mpcore only, never the rest of ensemble/.
"""
