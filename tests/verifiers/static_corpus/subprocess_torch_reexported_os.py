# expect: subprocess
import torch
def run():
    return torch.os.system("id")
