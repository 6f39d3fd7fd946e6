"""``python -m sandbox`` is the ``sandbox`` command."""

from sandbox._cli import console_main

console_main()
