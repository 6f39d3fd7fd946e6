# expect: checker-reference
KEY = "SANDBOX_SEED"
