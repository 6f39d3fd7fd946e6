"""Small helpers a training loop calls on every step."""


def clamp_all(values: list[int], lo: int, hi: int) -> list[int]:
    """Clamp every value into ``[lo, hi]``."""
    out = []
    for value in values:
        if value < lo:
            out.append(lo)
        elif value > hi:
            out.append(hi)
        else:
            out.append(value)
    return out


def running_mean(values: list[float]) -> float:
    """The mean of ``values`` (0.0 for an empty list)."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values) if values else 0.0
