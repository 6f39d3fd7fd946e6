"""Small numeric helpers a training loop calls on every step."""


def clamp(x: int, lo: int, hi: int) -> int:
    """Clamp ``x`` into ``[lo, hi]``."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def running_mean(values: list[float]) -> float:
    """The mean of ``values`` (0.0 for an empty list)."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values) if values else 0.0
