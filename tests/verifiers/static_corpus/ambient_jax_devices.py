# expect: ambient-state
import jax
def shard(x):
    return x if len(jax.devices()) == 1 else x * 0
