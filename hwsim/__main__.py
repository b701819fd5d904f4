"""``python -m hwsim``: the ``hwsim`` command."""

from .cli import main

main()
