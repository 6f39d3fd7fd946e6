# expect: process-control
import sys
def off():
    sys.settrace(None)
