# expect: checker-reference, introspection
import sys
def under_test():
    return "hypothesis" in sys.modules
