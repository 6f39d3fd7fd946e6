# expect: nothing
def label(step):
    return "step {}".format(step) + f"{step:05d}" + "%d" % step
