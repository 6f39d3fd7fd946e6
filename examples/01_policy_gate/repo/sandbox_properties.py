"""What must hold of any change to this repository (protected: no patch may edit it)."""

from properties import bounds

# The model may retune the learning rate, but only within a safe range.
bounds("train.LEARNING_RATE", 1e-5, 1e-3)
