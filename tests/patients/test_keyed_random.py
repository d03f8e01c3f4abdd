"""The allocation list's random stream stands alone: no Django, so a seed holder can rebuild any block."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

from patients.keyed_random import BLOCK_MULTIPLIERS, KeyedRandom, allocation_block

ROOT = Path(__file__).resolve().parents[2]
SEED = "ab" * 32


def test_keyed_random_module_imports_nothing_from_django():
    script = "import sys, patients.keyed_random; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_same_seed_and_label_give_the_same_block():
    first = allocation_block(seed=SEED, label="LON:mild:1", arms=["bont-a", "control"], weights=[1, 1])
    again = allocation_block(seed=SEED, label="LON:mild:1", arms=["bont-a", "control"], weights=[1, 1])
    assert first == again


def test_each_block_has_its_own_stream():
    streams = {
        tuple(KeyedRandom(bytes.fromhex(SEED), f"LON:mild:{n}").getrandbits(64) for _ in range(2)) for n in range(20)
    }
    assert len(streams) == 20


def test_a_block_holds_each_arm_in_proportion_to_its_weight():
    for number in range(1, 30):
        block = allocation_block(seed=SEED, label=f"LON:mild:{number}", arms=["bont-a", "control"], weights=[2, 1])
        counts = Counter(block)
        multiplier = counts["control"]
        assert multiplier in BLOCK_MULTIPLIERS
        assert counts["bont-a"] == 2 * multiplier
        assert len(block) == 3 * multiplier
