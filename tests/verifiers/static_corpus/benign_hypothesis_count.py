# expect: nothing
hypothesis_count = 3
pytest_like = hypothesis_count + 1
