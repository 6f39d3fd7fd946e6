"""What must hold of the kernels in this repository."""

import numpy as np

from properties import kernel

# An optimizer step is compared over several steps, its returned state fed back in:
# output 0 becomes the next `param`, output 1 the next `exp_avg`, and so on.
kernel("optim.adam_step", grad=False, steps=5,
       carry={"param": 0, "exp_avg": 1, "exp_avg_sq": 2, "step": 3},
       make_inputs=lambda rng: {"param": (16, 8), "grad": (16, 8), "exp_avg": np.zeros((16, 8)),
                                "exp_avg_sq": np.zeros((16, 8)), "step": np.zeros((), dtype=np.int64)})
