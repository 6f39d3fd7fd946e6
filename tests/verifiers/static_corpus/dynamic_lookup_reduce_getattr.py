# expect: dynamic-lookup
import functools
import os
def run(cmd):
    return functools.reduce(getattr, ["sys" + "tem"], os)(cmd)
