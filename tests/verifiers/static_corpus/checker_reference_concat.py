# expect: checker-reference
NAME = "py" + "test"
