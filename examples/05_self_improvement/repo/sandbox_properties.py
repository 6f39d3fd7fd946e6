"""What must hold while a model tunes train.py: the learning rate stays in its range.

Every other change to a function of train.py must keep its behaviour exactly (the default).
"""

from properties import bounds

bounds("train.LR", 0.001, 0.05)
