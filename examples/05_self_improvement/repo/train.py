"""A tiny model on synthetic data: fit y = w*x + b by full-batch gradient descent with a warm-up."""

LR = 0.01
WARMUP = 10


def lr_at(step: int) -> float:
    """The learning rate at ``step``: a linear warm-up over WARMUP steps, then constant."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    return LR


def step(w: float, b: float, xs: list[float], ys: list[float], rate: float) -> tuple[float, float, float]:
    """One gradient-descent step on the mean squared error: the new (w, b) and the loss before it."""
    n = len(xs)
    loss = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys)) / n
    grad_w = sum(2 * (w * x + b - y) * x for x, y in zip(xs, ys)) / n
    grad_b = sum(2 * (w * x + b - y) for x, y in zip(xs, ys)) / n
    return w - rate * grad_w, b - rate * grad_b, loss


def fit(xs: list[float], ys: list[float], steps: int) -> tuple[float, float, list[float]]:
    """Train from (0, 0) for ``steps`` steps; returns (w, b) and the training curve (loss per step)."""
    w, b, curve = 0.0, 0.0, []
    for t in range(steps):
        w, b, loss = step(w, b, xs, ys, lr_at(t))
        curve.append(loss)
    return w, b, curve
