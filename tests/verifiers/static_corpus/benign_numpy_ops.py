# expect: nothing
import numpy as np
def normalise(x, seed: int):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=np.shape(x))
    return np.asarray(x) / (np.linalg.norm(x) + 1e-8) + 0 * noise
