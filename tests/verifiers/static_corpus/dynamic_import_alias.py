# expect: dynamic-import
from importlib import import_module as im
def load(cfg):
    return im(cfg["module"])
