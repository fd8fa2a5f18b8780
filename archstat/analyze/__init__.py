"""Pure integer analysis of a Graph: per-layer rows, totals, published-vs-computed.

This package is also callable: ``archstat.analyze(model, ...)`` is ``archstat.api.analyze``. A
package attribute can hold one object, and ``archstat.analyze`` must be both the public function
(``archstat.analyze("vgg16")``) and this subpackage (``import archstat.analyze.stats`` binds the
name ``archstat`` and then looks up ``archstat.analyze.stats``; a plain function there would fail).
So the subpackage's module object gets a class with ``__call__``, which forwards to the function:
one object, both uses, no rename for anyone.
"""

import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from archstat.api import analyze

        return analyze(*args, **kwargs)

    @property
    def __wrapped__(self):   # inspect.signature and help() show the function's arguments
        from archstat.api import analyze

        return analyze


_sys.modules[__name__].__class__ = _CallableModule
