"""``python -m sklearn_mdtree._cli``: the ``mdtree`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
