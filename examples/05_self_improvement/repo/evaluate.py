"""The objective: validation loss of train.fit on data drawn with seed SANDBOX_REPEAT (lower is better).

`sandbox improve` runs this in an isolated copy of the repository and protects it for the whole
loop, so no proposal can change how it is measured.
"""

import os
import random

import train

seed = int(os.environ.get("SANDBOX_REPEAT", "0"))
rng = random.Random(seed)
xs = [rng.uniform(-2.0, 2.0) for _ in range(300)]
ys = [1.5 * x - 0.5 + rng.gauss(0.0, 0.5) for x in xs]
w, b = train.fit(xs[:200], ys[:200])
loss = sum((w * x + b - y) ** 2 for x, y in zip(xs[200:], ys[200:])) / 100
print(f"validation loss {loss:.6f}")
