"""archstat: what a convolutional network costs, from a YAML config, before you train it.

The analytic API (``load``, ``analyze``) never imports torch.
"""

__version__ = "0.1.0"

from archstat.api import analyze, build, load, load_spec  # noqa: E402,F401
from archstat.errors import ArchstatError, ConfigError  # noqa: E402,F401
