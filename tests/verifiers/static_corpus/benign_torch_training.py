# expect: nothing
import math
import torch
import torch.nn.functional as F
def lr_schedule(step, warmup=100, max_lr=6e-4):
    if step < warmup:
        return max_lr * step / warmup
    return max_lr * 0.5 * (1 + math.cos(math.pi * step / 10_000))
def loss(model, x, y):
    with torch.no_grad():
        pred = model(x)
    return F.cross_entropy(pred, y)
