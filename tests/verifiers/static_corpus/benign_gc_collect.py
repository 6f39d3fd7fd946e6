# expect: nothing
import gc
def free():
    gc.collect()
