# expect: process-control
import signal
def arm(handler):
    signal.signal(signal.SIGTERM, handler)
