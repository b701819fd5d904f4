"""Host driver of a board built by ``hwsim board``: the UART byte protocol of docs/board.md.

``Board`` opens a serial port (pyserial) or takes any object with pyserial's ``read`` / ``write`` /
``timeout`` / ``close`` (the UART co-simulation passes a simulated port), identifies the design,
loads a run-time weight image, sends sequences and decodes the outputs.
"""

from ._driver import Board, BoardError, BoardResult, open_port
from ._protocol import Identity

__all__ = ["Board", "BoardError", "BoardResult", "Identity", "open_port"]
