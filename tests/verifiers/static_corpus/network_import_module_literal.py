# expect: network
import importlib
net = importlib.import_module("soc" + "ket")
