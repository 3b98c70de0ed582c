"""Loss-landscape featurizers of sklearn-mdtree (the ``sklearn-mdtree`` distribution).

This package turns groups of trained PyTorch models into feature rows for
:class:`sklearn_mdtree.MDTreeClassifier`. It needs the ``torch`` extra::

    pip install "sklearn-mdtree[torch]"
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "featurizers (part of sklearn-mdtree) needs PyTorch; install it with "
        "`pip install \"sklearn-mdtree[torch]\"`."
    ) from exc
