# expect: subprocess
from concurrent.futures import ProcessPoolExecutor as Pool
