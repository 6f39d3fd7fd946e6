# expect: nothing
def clean(s):
    return s.replace("a", "b")
