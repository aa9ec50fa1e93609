"""Deprecated: the architecture-file package is :mod:`profondo.architecture`.

``import profondo.spec`` keeps working for one release (with a DeprecationWarning): it is the
same package, so ``profondo.spec.zoo``, ``profondo.spec.schema.SpecError`` and every other name
are those of ``profondo.architecture``.
"""

import sys
import warnings

from .. import architecture as _architecture
from ..architecture import *  # noqa: F403  (the whole public surface, re-exported)
from ..architecture import __all__, build, schema, write, zoo  # noqa: F401

warnings.warn("profondo.spec is deprecated: import profondo.architecture instead", DeprecationWarning, stacklevel=2)

# The sub-modules are the new package's own, so `import profondo.spec.build` and isinstance checks
# against their classes see one set of objects.
for _name in ("build", "schema", "write", "zoo"):
    sys.modules[f"{__name__}.{_name}"] = getattr(_architecture, _name)
del _name
