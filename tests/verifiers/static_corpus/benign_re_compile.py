# expect: nothing
import re
PATTERN = re.compile(r"\d+")
