# expect: process-control
import os
def stop(pid):
    os.kill(pid, 9)
