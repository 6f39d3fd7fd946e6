# expect: nothing
def label(point, row):
    return "{0.x} {1[name]} {0!r:>10}".format(point, row) + type(point).__name__
