# expect: file-write, module-mutation
import logging
import sqlite3


def remember(x):
    sqlite3.connect("cache.db").execute("select 1")
    logging.getLogger().addHandler(logging.FileHandler("leak.log"))
    return x
