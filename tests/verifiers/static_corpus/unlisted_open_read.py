# expect: unlisted-call
def read(p):
    with open(p) as fh, open(p, "rb") as raw, open(p, mode="rt") as text:
        return fh.read(), raw.read(), text.read()
