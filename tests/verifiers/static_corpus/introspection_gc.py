# expect: introspection
import gc
def peers(x):
    return gc.get_referrers(x)
