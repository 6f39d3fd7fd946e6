# expect: ambient-state
import torch
def step(x):
    if torch.is_grad_enabled() or torch.get_num_threads() > 4 or torch.cuda.is_available():
        return x * 2
    return x
