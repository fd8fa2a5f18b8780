"""archstat: what a convolutional network costs, from a YAML config, before you train it.

The analytic API (``load``, ``analyze``, ``compare``, ``roofline``) never imports torch.
``archstat.analyze`` is at once the function (``archstat.analyze("vgg16")``) and the subpackage
(``import archstat.analyze.stats``): a package attribute can hold one object, so the subpackage's
module object gets a class with ``__call__`` that forwards to ``archstat.api.analyze`` (set here,
at the top of the layers, so that analyze/ never imports the API above it).
"""

import sys as _sys
import types as _types

from archstat import (
    analyze,  # the subpackage, made callable as archstat.api.analyze below
    llm,  # the subpackage, made callable as archstat.api.llm below
)
from archstat._version import __version__
from archstat.api import build, compare, load, load_spec
from archstat.api import roofline as _roofline
from archstat.errors import (
    ArchstatError,
    ArgumentTypeError,
    ArgumentValueError,
    ConfigError,
    RuntimeFailure,
    UsageError,
)
from archstat.report import display as _display


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from archstat.api import analyze as _analyze

        return _analyze(*args, **kwargs)

    @property
    def __wrapped__(self):   # inspect.signature and help() show the function's arguments
        from archstat.api import analyze as _analyze

        return _analyze


class _CallableLLM(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from archstat.api import llm as _llm

        return _llm(*args, **kwargs)

    @property
    def __wrapped__(self):
        from archstat.api import llm as _llm

        return _llm


def roofline(*args, **kwargs):
    return _roofline_shown(_roofline(*args, **kwargs))


def _roofline_shown(result):
    _display.install_roofline()   # a Roofline prints its table, shows HTML in a notebook, has to_dict()
    return result


roofline.__doc__, roofline.__wrapped__ = _roofline.__doc__, _roofline   # type: ignore[attr-defined]
_sys.modules["archstat.analyze"].__class__ = _CallableModule
_sys.modules["archstat.llm"].__class__ = _CallableLLM
_display.install()   # results show themselves in notebooks, rich and the REPL (report/display.py)

__all__ = [
    "ArchstatError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "ConfigError",
    "RuntimeFailure",
    "UsageError",
    "__version__",
    "analyze",
    "build",
    "compare",
    "llm",
    "load",
    "load_spec",
    "roofline",
]
