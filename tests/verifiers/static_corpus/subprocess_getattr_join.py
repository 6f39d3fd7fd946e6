# expect: subprocess
import os
getattr(os, "".join(["sy", "st", "em"]))("id")
