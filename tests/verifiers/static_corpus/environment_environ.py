# expect: environment
import os
def debug():
    return os.environ["DEBUG"] == "1"
