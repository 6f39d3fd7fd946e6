# expect: module-mutation
import torch
torch.allclose = lambda *a, **k: True
