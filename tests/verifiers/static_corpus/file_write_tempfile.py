# expect: file-write
import tempfile
def scratch():
    return tempfile.mkdtemp()
