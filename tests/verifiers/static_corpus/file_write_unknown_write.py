# expect: file-write
def emit(x, f, text):
    x.write(text)
    f.flush()
