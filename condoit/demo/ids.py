"""Opaque, unique, deterministic Condoit ids for the demo records."""

from __future__ import annotations

import random

_MASK64 = (1 << 64) - 1
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class Ids:
    """Opaque, unique, deterministic ids: a seeded bijection of a per-kind sequence number."""

    __slots__ = ("salts", "seq")

    def __init__(self, seed: int) -> None:
        r = random.Random(f"masterbus-demo-ids/{seed}")
        self.salts = {k: r.getrandbits(64) for k in ("fac", "eq", "mr", "ph", "cd")}
        self.seq = dict.fromkeys(self.salts, 0)

    def next(self, kind: str) -> str:
        n = self.seq[kind]
        self.seq[kind] = n + 1
        x = (n + self.salts[kind]) & _MASK64
        x = (x * 0x9E3779B97F4A7C15) & _MASK64
        x ^= x >> 31
        x = (x * 0xBF58476D1CE4E5B9) & _MASK64
        x ^= x >> 29
        chars = []
        for _ in range(13):
            x, d = divmod(x, 36)
            chars.append(_B36[d])
        return f"{kind}_{''.join(chars)}"
