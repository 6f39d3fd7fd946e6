# expect: dynamic-lookup, unlisted-call
class Config:
    def get(self, name, config, key):
        setattr(self, name, 1)
        return getattr(self, name), getattr(config, key), hasattr(self, name)
