"""A tiny training script: a learning-rate schedule written with integer steps."""

MAX_LR = 0.001
WARMUP_STEPS = 100
TOTAL_STEPS = 1000


def lr_at(step: int) -> float:
    """Linear warmup to MAX_LR, then linear decay to zero at TOTAL_STEPS."""
    if step < WARMUP_STEPS:
        return MAX_LR * (step + 1) / WARMUP_STEPS
    if step < TOTAL_STEPS:
        return MAX_LR * (TOTAL_STEPS - step) / (TOTAL_STEPS - WARMUP_STEPS)
    return 0.0


def finetune_lr(step: int) -> float:
    """The fine-tuning schedule: a short warmup, then constant; the model may retune its numbers."""
    if step < 50:
        return 0.0001 * (step + 1) / 50
    return 0.0001
