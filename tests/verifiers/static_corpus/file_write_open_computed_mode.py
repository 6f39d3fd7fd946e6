# expect: file-write
def dump(p, mode):
    return open(p, mode)
