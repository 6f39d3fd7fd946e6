# expect: environment
import os
class Settings:
    token = os.environ.get("TOKEN")
