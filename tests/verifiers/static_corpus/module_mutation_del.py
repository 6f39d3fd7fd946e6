# expect: module-mutation
import torch
del torch.allclose
