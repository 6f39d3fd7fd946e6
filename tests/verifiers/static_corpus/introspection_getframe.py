# expect: introspection
import sys
def peek():
    return sys._getframe(1).f_locals
