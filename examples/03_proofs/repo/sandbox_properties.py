"""What must hold of any change to this repository (protected: no patch may edit it)."""

from properties import invariant

# The model may retune the fine-tuning schedule, as long as its rate stays within [0, 1e-3].
# lr_at keeps the default obligation: any change must be equivalent.
invariant("train.finetune_lr",
          lambda step, out: 0.0 <= out <= 0.001,
          pre=lambda step: 0 <= step <= 1500)
