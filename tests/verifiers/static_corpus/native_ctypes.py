# expect: native-code
import ctypes
libc = ctypes.CDLL(None)
