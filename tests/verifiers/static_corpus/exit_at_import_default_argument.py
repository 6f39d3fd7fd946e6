# expect: exit-at-import
import sys
def f(x=sys.exit(0)):
    return x
