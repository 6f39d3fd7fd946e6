# expect: subprocess
import os
if (runner := os.popen):
    pass
