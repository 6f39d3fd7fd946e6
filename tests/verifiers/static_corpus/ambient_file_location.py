# expect: ambient-state
def where():
    return __file__.endswith("train.py")
