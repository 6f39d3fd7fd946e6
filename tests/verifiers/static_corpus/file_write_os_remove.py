# expect: file-write
import os as o
def clean(p):
    o.remove(p)
