# expect: dynamic-lookup
import os
def find(name):
    return os.__dict__[name]
