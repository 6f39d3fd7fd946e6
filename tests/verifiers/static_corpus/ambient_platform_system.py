# expect: ambient-state
import platform
IS_LINUX = platform.system() == "Linux"
