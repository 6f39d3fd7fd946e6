# expect: unlisted-call
import pandas as pd
def table(path):
    return pd.read_csv(path)
