# expect: module-mutation
import builtins
builtins.print = lambda *a: None
