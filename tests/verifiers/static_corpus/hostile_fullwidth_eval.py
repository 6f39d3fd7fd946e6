# expect: dynamic-code
def step(s):
    return ｅｖａｌ(s)  # Python NFKC-normalises this identifier to `eval`
