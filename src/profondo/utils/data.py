"""``torch.utils.data``'s path for :mod:`profondo.data` (``from profondo.utils.data import DataLoader``)."""

from profondo.data import *  # noqa: F403
from profondo.data import __all__  # noqa: F401
