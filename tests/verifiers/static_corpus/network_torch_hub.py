# expect: network
import torch
def fetch():
    return torch.hub.load("someone/repo", "model")
