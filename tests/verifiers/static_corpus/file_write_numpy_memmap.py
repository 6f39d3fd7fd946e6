# expect: file-write
import numpy as np
def stash(x):
    out = np.memmap("stash.bin", mode="w+", shape=(4,))
    out[:] = x
    return np.lib.format.open_memmap("x.npy", mode="w+", shape=(4,))
