# expect: ambient-state
import os
def where(a, b):
    return os.path.join(a, b), os.getcwd(), os.listdir(a), os.sep
