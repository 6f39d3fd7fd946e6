# expect: nothing
import os
import os.path
def where(a, b):
    return os.path.join(a, b), os.path.splitext(b)[0], os.path.basename(a), os.sep
