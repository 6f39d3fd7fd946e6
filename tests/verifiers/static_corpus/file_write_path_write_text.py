# expect: file-write
from pathlib import Path
def note(p):
    Path(p).write_text("done")
