# expect: nothing
def emit(x, f, text):
    x.write(text)
    f.flush()
