# expect: module-mutation
import torch as t
T = t.Tensor
def patch():
    T.add = lambda self, other: self
