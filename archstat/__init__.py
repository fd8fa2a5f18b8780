"""archstat: what a convolutional network costs, from a YAML config, before you train it.

The analytic API (``load``, ``analyze``, ``compare``, ``roofline``) never imports torch.
``archstat.analyze`` is at once the function (``archstat.analyze("vgg16")``) and the subpackage
(``import archstat.analyze.stats``): see ``archstat/analyze/__init__.py``.
"""

__version__ = "0.1.0"

from archstat.api import build, compare, load, load_spec, roofline  # noqa: E402,F401
from archstat import analyze  # noqa: E402,F401  (the subpackage, callable as archstat.api.analyze)
from archstat.errors import (ArchstatError, ArgumentTypeError, ArgumentValueError, ConfigError,  # noqa: E402,F401
                             RuntimeFailure, UsageError)
