# expect: file-write
import shutil
def clean(d):
    shutil.rmtree(d)
