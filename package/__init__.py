"""AttnScope: watch an encoder-decoder Transformer think.

One import name for the whole distribution: ``attnscope.core`` (training, export and the
torch-free inference engine), ``attnscope.app`` (the PySide6 window), ``attnscope.export``
(headless figures and data dumps) and ``attnscope.resources`` (the shipped model bundle,
icon and desktop entry). ``python -m attnscope`` is the ``attnscope`` command.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("attnscope")
except PackageNotFoundError:  # running from an unpacked tree that was never installed
    __version__ = "0+unknown"
