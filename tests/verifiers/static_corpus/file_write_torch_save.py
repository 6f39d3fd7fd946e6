# expect: file-write
import torch
def checkpoint(model, p):
    torch.save(model.state_dict(), p)
