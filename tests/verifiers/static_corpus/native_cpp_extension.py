# expect: native-code
from torch.utils.cpp_extension import load
