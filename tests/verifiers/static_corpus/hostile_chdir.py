# expect: process-control
import os
import sys


def step(x):
    os.chdir("/")
    sys.setrecursionlimit(10**9)
    return x
