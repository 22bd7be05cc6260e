"""Deterministic hashing (numpy, vectorised; identical for one element and for millions).

The world's content is a pure function of the seed: every attribute of a scene is derived from
these hashes, never from a random generator, so it does not depend on request order.
"""

from __future__ import annotations

import hashlib

import numpy as np

_U64 = np.uint64
MASK64 = (1 << 64) - 1


def splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _U64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> _U64(27))) * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def hash_parts(key: int, *parts: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = np.full(np.broadcast(*parts).shape if parts else (), key, dtype=np.uint64)
        for part in parts:
            h = splitmix(h ^ np.asarray(part).astype(np.uint64))
        return h


def unit(h: np.ndarray, salt: int) -> np.ndarray:
    """Uniform floats in [0, 1) derived from hash ``h`` and an attribute ``salt``."""
    with np.errstate(over="ignore"):
        return (splitmix(h ^ _U64(salt)) >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def units(h: np.ndarray, first_salt: int, count: int) -> np.ndarray:
    """``count`` independent uniforms per hash: shape (N, count); column i uses salt first_salt + i."""
    salts = np.arange(first_salt, first_salt + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = splitmix(np.asarray(h, dtype=np.uint64)[:, None] ^ salts[None, :])
    return (mixed >> _U64(11)).astype(np.float64) * (1.0 / (1 << 53))


def py_mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def seed_key(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{label}".encode(), digest_size=8).digest(), "big")
