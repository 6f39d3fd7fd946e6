# expect: process-control
import atexit
def arm(handler):
    atexit.register(handler)
