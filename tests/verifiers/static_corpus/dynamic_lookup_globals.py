# expect: dynamic-lookup
def find(name):
    return globals()[name]
