# expect: ambient-state
import torch
def init(x):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    return x
