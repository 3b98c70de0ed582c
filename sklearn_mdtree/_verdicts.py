"""Internal re-export shim: the verdict functions now live in :mod:`sklearn_mdtree.diagnosis`.

``_failure`` (training check), ``_validity`` (regime accuracy, abstention, keep as is,
confidence, tree validity) and ``_recipe`` (feature recipe), ``_shipping`` (a tree's measured validity). This module only keeps
imports of the old private path working on branches written against it; it is not a
public path and will be removed. Import from the modules above.
"""

from .diagnosis._failure import *  # noqa: F401,F403
from .diagnosis._failure import __all__ as _failure_all
from .diagnosis._failure import _advice, _as_row, _get  # noqa: F401
from .diagnosis._recipe import *  # noqa: F401,F403
from .diagnosis._recipe import __all__ as _recipe_all
from .diagnosis._recipe import _RECIPE_FIELDS, _WHY  # noqa: F401
from .diagnosis._shipping import *  # noqa: F401,F403
from .diagnosis._shipping import __all__ as _shipping_all
from .diagnosis._validity import *  # noqa: F401,F403
from .diagnosis._validity import __all__ as _validity_all
from .diagnosis._validity import _fraction, _majority, _refuse  # noqa: F401

__all__ = sorted(_failure_all + _recipe_all + _shipping_all + _validity_all)
