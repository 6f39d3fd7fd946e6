# expect: file-write, module-mutation
import logging
import logging.handlers
def setup():
    logging.getLogger().addHandler(logging.handlers.SysLogHandler())
