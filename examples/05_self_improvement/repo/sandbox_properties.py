"""What must hold while a model tunes train.py: the hyperparameters stay in their ranges."""

from properties import bounds

bounds("train.LR", 0.001, 0.1)
bounds("train.STEPS", 10, 200)
