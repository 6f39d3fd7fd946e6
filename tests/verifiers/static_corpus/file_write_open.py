# expect: file-write
def dump(p, text):
    with open(p, "w") as fh:
        fh.write(text)
