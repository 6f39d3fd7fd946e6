# expect: introspection
def peek(frame):
    return frame.f_back.f_globals
