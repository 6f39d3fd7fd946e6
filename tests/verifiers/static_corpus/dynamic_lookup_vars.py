# expect: dynamic-lookup
import math
def find(name):
    return vars(math)[name]
