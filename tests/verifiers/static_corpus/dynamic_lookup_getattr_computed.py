# expect: dynamic-lookup
import os
def call(name, *args):
    return getattr(os, name)(*args)
