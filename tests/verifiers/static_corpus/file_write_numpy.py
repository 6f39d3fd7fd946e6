# expect: file-write
import numpy as np
def dump(a, p):
    np.save(p, a)
