"""A shipped tree's measured validity: its held-out accuracy on the transfer it is meant
for, beside a constant answer and Valid+DT, and whether it may be shipped (issue 20,
item 5). Torch-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from numbers import Integral

from ._validity import _fraction, _refuse, posterior_interval

__all__ = ["TreeValidity", "is_shippable"]


# --------------------------------------------------------------------------------------
# 7. Shipped-tree validity
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeValidity:
    """A shipped tree's measured validity on the transfer it is meant for.

    Attributes
    ----------
    tree_accuracy, constant_accuracy : float
        Held-out accuracy of the tree and of a constant answer (the training
        majority label), fractions.
    valid_dt_accuracy : float or None
        Held-out accuracy of Valid+DT (a free decision tree on validation
        features), if measured.
    transfer : str
        The transfer measured, in words (e.g. ``"few-shot over (data, width) pairs"``).
    k : int or None
        The number of training configurations / pairs the tree is meant for.
    n : int
        Held-out configurations.
    interval : tuple of float or None
        95% interval of ``tree_accuracy`` (None: computed from it and ``n`` by
        :func:`posterior_interval`).
    """

    tree_accuracy: float
    constant_accuracy: float
    valid_dt_accuracy: float | None
    transfer: str
    k: int | None
    n: int
    interval: tuple | None = None

    def __post_init__(self):
        for name in ("tree_accuracy", "constant_accuracy"):
            _fraction(getattr(self, name), name)
        if self.valid_dt_accuracy is not None:
            _fraction(self.valid_dt_accuracy, "valid_dt_accuracy")
        if isinstance(self.n, bool) or not isinstance(self.n, Integral) or self.n < 1:
            _refuse("n", "an integer >= 1", self.n)
        if self.interval is None:
            object.__setattr__(self, "interval",
                               posterior_interval(self.tree_accuracy * self.n, self.n))
        else:
            lo, hi = self.interval
            if not 0 <= lo <= hi <= 1:
                _refuse("interval", "(low, high) with 0 <= low <= high <= 1", self.interval)
            object.__setattr__(self, "interval", (float(lo), float(hi)))

    def to_dict(self):
        """Plain JSON types (for a tree file's ``validity``)."""
        d = asdict(self)
        d["interval"] = list(self.interval)
        return d

    @classmethod
    def from_dict(cls, data):
        """Read :meth:`to_dict`'s dict (unknown keys refused)."""
        if not isinstance(data, Mapping):
            _refuse("data", "a dict of validity fields", type(data).__name__, TypeError)
        names = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - names)
        if unknown:
            _refuse("data", f"keys among {sorted(names)}", unknown)
        data = dict(data)
        if data.get("interval") is not None:
            data["interval"] = tuple(data["interval"])
        return cls(**data)

    def to_text(self):
        """One line: the tree's accuracy with its interval, and the baselines."""
        dt = ("" if self.valid_dt_accuracy is None
              else f", Valid+DT {self.valid_dt_accuracy:.2f}")
        k = "" if self.k is None else f" at k = {self.k}"
        return (f"held-out accuracy {self.tree_accuracy:.2f} (95% interval "
                f"{self.interval[0]:.2f}-{self.interval[1]:.2f}, n = {self.n}) on "
                f"{self.transfer}{k}; a constant answer {self.constant_accuracy:.2f}{dt}")


def is_shippable(validity):
    """Does the tree clearly beat a constant answer on its held-out set?

    Criterion: the lower end of the tree's 95% accuracy interval lies strictly
    above the constant answer's held-out accuracy (not merely its point estimate:
    a tree that beats the constant answer within its noise is not shipped).

    Parameters
    ----------
    validity : TreeValidity

    Returns
    -------
    shippable : bool
    """
    if not isinstance(validity, TreeValidity):
        _refuse("validity", "a TreeValidity", type(validity).__name__, TypeError)
    return validity.interval[0] > validity.constant_accuracy
