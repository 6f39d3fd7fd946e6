# expect: dynamic-lookup
import os
def run(apply, cmd):
    return apply(os, cmd)
