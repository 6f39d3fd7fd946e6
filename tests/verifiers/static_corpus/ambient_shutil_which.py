# expect: ambient-state
import shutil
HAS_GIT = shutil.which("git") is not None
