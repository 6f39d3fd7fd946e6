"""A tiny model on synthetic data: fit y = w*x + b by gradient descent with a warm-up."""

LR = 0.015
STEPS = 40
WARMUP = 10


def lr_at(step: int) -> float:
    """The learning rate at ``step``: a linear warm-up over WARMUP steps, then constant."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    return LR


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Full-batch gradient descent on the mean squared error; returns (w, b)."""
    w, b = 0.0, 0.0
    n = len(xs)
    for step in range(STEPS):
        grad_w = sum(2 * (w * x + b - y) * x for x, y in zip(xs, ys)) / n
        grad_b = sum(2 * (w * x + b - y) for x, y in zip(xs, ys)) / n
        rate = lr_at(step)
        w, b = w - rate * grad_w, b - rate * grad_b
    return w, b
