# expect: subprocess
import os
PART = "sys"
getattr(os, f"{PART}tem")("id")
