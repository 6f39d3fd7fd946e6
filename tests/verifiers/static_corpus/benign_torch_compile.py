# expect: nothing
import torch
def fast(m):
    return torch.compile(m)
