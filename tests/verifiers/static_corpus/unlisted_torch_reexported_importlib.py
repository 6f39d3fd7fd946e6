# expect: dynamic-import
import torch.nn.functional as F
def load():
    return F.importlib.import_module("o" + "s")
