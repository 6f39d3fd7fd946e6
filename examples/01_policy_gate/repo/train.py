"""A tiny training script: the code a model might want to change."""

import math

LEARNING_RATE = 3e-4
WARMUP_STEPS = 100
TOTAL_STEPS = 10_000


def lr_schedule(step: int) -> float:
    """Linear warmup, then cosine decay to zero."""
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / max(1, TOTAL_STEPS - WARMUP_STEPS)
    return LEARNING_RATE * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def clip(value: float, limit: float) -> float:
    """Clamp value to [-limit, limit]."""
    return max(-limit, min(limit, value))
