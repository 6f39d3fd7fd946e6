# expect: network
from urllib.request import urlopen
