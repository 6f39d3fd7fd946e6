# expect: native-code
import torch
def fast(m):
    return torch.compile(m)
