# expect: subprocess
from multiprocessing import Pool
