"""The keyed random stream behind the concealed allocation list, and the block it shuffles.

No Django here: whoever holds a study's seed (an auditor, a statistician checking the list)
can rebuild any block with this module alone.
"""

import hashlib
import hmac
import random
from collections.abc import Sequence
from typing import TypeVar

# Block sizes are these multiples of the sum of the allocation weights (1:1 gives blocks of 4 or 6),
# chosen at random per block so that the end of a block cannot be predicted.
BLOCK_MULTIPLIERS = (2, 3)


class KeyedRandom(random.Random):
    """A deterministic random stream from HMAC-SHA256 of a secret seed.

    Reproducible for audit (the same seed always gives the same list) yet not
    predictable from earlier allocations, unlike a Mersenne Twister.
    """

    def __init__(self, key: bytes, label: str):
        self._key = key
        self._label = label.encode()
        self._counter = 0
        super().__init__(0)

    def getrandbits(self, k: int) -> int:
        out = b""
        while len(out) * 8 < k:
            self._counter += 1
            out += hmac.new(self._key, self._label + self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(out, "big") >> (len(out) * 8 - k)

    def random(self) -> float:
        return self.getrandbits(53) / (1 << 53)


Arm = TypeVar("Arm")


def allocation_block(*, seed: str, label: str, arms: Sequence[Arm], weights: Sequence[int]) -> list[Arm]:
    """A shuffled block: each arm `weight x multiplier` times, the multiplier drawn from BLOCK_MULTIPLIERS.

    `seed` is the study's secret (hex); `label` names the block (stratum and block number), so that
    every block has its own stream and any one can be rebuilt without the others.
    """
    rng = KeyedRandom(bytes.fromhex(seed), label)
    multiplier = rng.choice(BLOCK_MULTIPLIERS)
    block = [arm for arm, weight in zip(arms, weights, strict=True) for _ in range(weight * multiplier)]
    rng.shuffle(block)
    return block
