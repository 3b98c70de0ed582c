"""``python -m sklearn_mdtree._cli``: the ``mdtree`` command."""

import sys

from . import main

sys.exit(main())
