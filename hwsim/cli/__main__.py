"""``python -m hwsim.cli``: the ``hwsim`` command."""

from . import main

main()
