# expect: subprocess
import posix
posix.system("id")
