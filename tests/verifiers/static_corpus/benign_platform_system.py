# expect: nothing
import platform
IS_LINUX = platform.system() == "Linux"
