# expect: subprocess
import os
def spawn():
    return os.fork()
