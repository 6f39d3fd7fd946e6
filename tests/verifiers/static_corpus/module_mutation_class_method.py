# expect: module-mutation
import torch
def fake_add(self, other):
    return self
torch.Tensor.add = fake_add
