# expect: ambient-state
import os.path
def cache_dir(name):
    return os.path.join(os.path.expandvars("$HOME"), os.path.expanduser("~"), name)
