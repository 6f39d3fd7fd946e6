# expect: nothing
import torch
import torch.nn as nn
import torch.nn.functional as F

class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)
        nn.init.normal_(self.proj.weight, std=0.02)
        self.register_buffer("scale", torch.ones(d))

    def forward(self, x):
        with torch.set_grad_enabled(self.training):
            y = F.gelu(self.proj(x)) * self.scale
        return torch.einsum("bd,d->bd", y, torch.ones(y.shape[-1], device=x.device)).clamp_(-10, 10)

@torch.no_grad()
def update(params, grads, lr: float):
    for p, g in zip(params, grads):
        p.add_(g, alpha=-lr)
    return torch.optim.AdamW, torch.autograd.grad
