"""The objective: validation loss of train.fit under a fixed compute budget (lower is better).

Training may read BUDGET data points in all. A step's price is counted, not timed: the data
are handed to ``train.step`` wrapped so that every point read is counted, so the price (and
the number of steps the budget buys) is the same on any machine under any load. A faster step
buys more steps, and so a lower loss. The whole run is counted too and refused over budget.
The data are drawn with seed SANDBOX_REPEAT, so baseline and candidate see the same K draws.

`sandbox improve` runs this in an isolated copy of the repository and protects it for the whole
loop, so no proposal can change how it is measured.
"""

import os
import random
import sys

import train

BUDGET = 48_000


class Counted:
    """A read-only sequence that counts, in ``reads``, every element read from it."""

    def __init__(self, items, reads):
        self._items, self._reads = list(items), reads

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        for item in self._items:
            self._reads[0] += 1
            yield item

    def __getitem__(self, index):
        got = self._items[index]
        self._reads[0] += len(got) if isinstance(index, slice) else 1
        return got


seed = int(os.environ.get("SANDBOX_REPEAT", "0"))
rng = random.Random(seed)
xs = [rng.uniform(0.0, 2.0) for _ in range(1200)]
ys = [1.5 * x - 0.5 + rng.gauss(0.0, 0.5) for x in xs]

probe = [0]
train.step(0.0, 0.0, Counted(xs[:200], probe), Counted(ys[:200], probe), 0.0)
price = max(probe[0], 1)
steps = BUDGET // price
spent = [0]
w, b, _ = train.fit(Counted(xs[:200], spent), Counted(ys[:200], spent), steps)
if spent[0] > BUDGET:
    sys.exit(f"training read {spent[0]} data points, over the budget of {BUDGET}")
loss = sum((w * x + b - y) ** 2 for x, y in zip(xs[200:], ys[200:])) / 1000
print(f"validation loss {loss:.6f} ({steps} steps at {price} reads a step, budget {BUDGET})")
