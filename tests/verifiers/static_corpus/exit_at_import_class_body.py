# expect: exit-at-import
class Config:
    exit()
