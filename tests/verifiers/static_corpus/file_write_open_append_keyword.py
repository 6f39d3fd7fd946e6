# expect: file-write
def dump(p, text):
    with open(p, mode="a+") as fh:
        fh.write(text)
