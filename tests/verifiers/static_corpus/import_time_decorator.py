# expect: subprocess
import os
@(lambda f: (os.system("id"), f)[1])
def helper(x):
    return x
