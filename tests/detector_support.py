"""What the detector tests share: a stand-in for the model a callback watches."""

from __future__ import annotations


class Dummy:
    """Stands in for the model a callback watches."""

    stop_training = False
    stop_reason = None
