"""A family's configurations as data, their one-step neighbours, and the grid check.

A configuration of a user's family is the value of the optimizer knob (learning
rate or batch size), the width, the amount of training data and fixed
hyperparameters (BatchNorm on or off, ...). Its one-step neighbours are the
configurations one step away along each axis a diagnosis can recommend: the knob
up and down, the width up, the data up (only while data is left to take).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

__all__ = [
    "ACTIONS",
    "FAILURE_SOURCES",
    "KNOBS",
    "MOVES",
    "LatticeConfig",
    "Steps",
    "check_failure_sources",
    "lattice",
    "move_action",
    "neighbours",
]

#: The optimizer knobs a family can vary.
KNOBS = ("learning rate", "batch size")
#: The one-step moves, in the order they are tried.
MOVES = ("knob_up", "knob_down", "width_up", "data_up")
#: The actions a diagnosis can recommend, in the knob-free vocabulary.
ACTIONS = ("raise temperature", "lower temperature", "widen", "more data", "none")
#: What a known-cause grid must cover, at least one configuration each.
FAILURE_SOURCES = (
    "temperature too high",
    "temperature too low",
    "width too small",
    "data too small",
    "well tuned",
)


def _check_knob(knob):
    if knob not in KNOBS:
        raise ValueError(f"The 'knob' parameter must be one of {list(KNOBS)}; got {knob!r}.")


def move_action(move, knob):
    """The action a move stands for: a larger learning rate or a smaller batch raises
    the temperature.

    Examples
    --------
    >>> from featurizers.lattice import move_action
    >>> move_action("knob_up", "learning rate"), move_action("knob_up", "batch size")
    ('raise temperature', 'lower temperature')
    >>> move_action("data_up", "batch size"), move_action("none", "batch size")
    ('more data', 'none')
    """
    _check_knob(knob)
    if move == "none":
        return "none"
    if move in ("knob_up", "knob_down"):
        raise_ = (move == "knob_up") == (knob == "learning rate")
        return "raise temperature" if raise_ else "lower temperature"
    if move == "width_up":
        return "widen"
    if move == "data_up":
        return "more data"
    raise ValueError(f"The 'move' parameter must be one of {[*MOVES, 'none']}; got {move!r}.")


@dataclass(frozen=True)
class Steps:
    """Multiplicative step of each axis: knob, width, data (each > 1).

    Examples
    --------
    >>> from featurizers.lattice import Steps
    >>> Steps().knob, Steps().width, Steps().data
    (4.0, 4, 2.0)
    """

    knob: float = 4.0
    width: int = 4
    data: float = 2.0

    def __post_init__(self):
        for name in ("knob", "width", "data"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value > 1:
                raise ValueError(
                    f"The {name!r} parameter of Steps must be a number > 1; got {value!r}."
                )


@dataclass(frozen=True)
class LatticeConfig:
    """One configuration: knob value, width, training-set size, fixed hyperparameters.

    ``fixed`` is a tuple of ``(name, value)`` pairs (kept sorted), passed to the
    family's model factory as keyword arguments.

    Examples
    --------
    >>> from featurizers.lattice import LatticeConfig
    >>> c = LatticeConfig(0.05, width=16, n_train=600, fixed={"batchnorm": True})
    >>> c.fixed, c.as_dict()["batchnorm"]
    ((('batchnorm', True),), True)
    """

    knob_value: float
    width: int
    n_train: int
    fixed: tuple = field(default=())

    def __post_init__(self):
        fixed = self.fixed.items() if isinstance(self.fixed, dict) else self.fixed
        object.__setattr__(self, "fixed", tuple(sorted((str(k), v) for k, v in fixed)))
        if isinstance(self.knob_value, bool) or not isinstance(self.knob_value, Real) \
                or not self.knob_value > 0:
            raise ValueError(
                f"The 'knob_value' parameter of LatticeConfig must be a number > 0; got "
                f"{self.knob_value!r}."
            )
        for name in ("width", "n_train"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(
                    f"The {name!r} parameter of LatticeConfig must be an int >= 1; got "
                    f"{value!r}."
                )

    def as_dict(self):
        """Plain JSON-able values (a cache key's part, a table row's)."""
        return {"knob_value": float(self.knob_value), "width": int(self.width),
                "n_train": int(self.n_train), **dict(self.fixed)}

    def replace(self, **changes):
        values = {"knob_value": self.knob_value, "width": self.width,
                  "n_train": self.n_train, "fixed": self.fixed, **changes}
        return LatticeConfig(**values)


def neighbours(config, knob, *, steps=Steps(), n_available=None):
    """The one-step neighbours of ``config``: ``{move: LatticeConfig}``.

    The knob moves by ``steps.knob`` (a batch size is rounded to an int, at least
    1), the width up by ``steps.width``, the data up by ``steps.data`` up to
    ``n_available`` (no ``data_up`` when the configuration already uses it all). A
    move that would not change the configuration is left out.

    Examples
    --------
    >>> from featurizers.lattice import LatticeConfig, neighbours
    >>> moves = neighbours(LatticeConfig(32, 8, 300), "batch size", n_available=500)
    >>> {m: (c.knob_value, c.width, c.n_train) for m, c in moves.items()}
    {'knob_up': (128, 8, 300), 'knob_down': (8, 8, 300), 'width_up': (32, 32, 300), 'data_up': (32, 8, 500)}
    """
    _check_knob(knob)
    if knob == "batch size":
        up = int(round(config.knob_value * steps.knob))
        down = max(1, int(round(config.knob_value / steps.knob)))
    else:
        up = float(config.knob_value * steps.knob)
        down = float(config.knob_value / steps.knob)
    out = {
        "knob_up": config.replace(knob_value=up),
        "knob_down": config.replace(knob_value=down),
        "width_up": config.replace(width=int(round(config.width * steps.width))),
    }
    more = int(round(config.n_train * steps.data))
    if n_available is not None:
        more = min(more, int(n_available))
    if more > config.n_train:
        out["data_up"] = config.replace(n_train=more)
    return {m: c for m, c in out.items() if c != config}


def check_failure_sources(sources, required=FAILURE_SOURCES, *, parameter="sources"):
    """Refuse a grid without at least one configuration per failure source.

    Parameters
    ----------
    sources : sequence of str
        The intended failure source of each base configuration.
    required : sequence of str, default=FAILURE_SOURCES
    parameter : str
        The name the message gives the grid.

    Raises
    ------
    ValueError
        One line naming the parameter, the expected and the actual count.

    Examples
    --------
    >>> from featurizers.lattice import check_failure_sources
    >>> check_failure_sources(["well tuned"], required=["well tuned", "data too small"])
    Traceback (most recent call last):
    ...
    ValueError: The 'sources' parameter must hold at least 1 configuration with failure source 'data too small'; got 0.
    """
    sources = list(sources)
    unknown = sorted({s for s in sources if s not in FAILURE_SOURCES})
    if unknown:
        raise ValueError(
            f"The {parameter!r} parameter must name failure sources among "
            f"{list(FAILURE_SOURCES)}; got {unknown}."
        )
    for source in required:
        if sources.count(source) < 1:
            raise ValueError(
                f"The {parameter!r} parameter must hold at least 1 configuration with failure "
                f"source {source!r}; got 0."
            )


def lattice(knob_values, widths, n_trains, fixed=({},)):
    """Every configuration of a product grid (knob x width x data x fixed settings).

    A lattice whose axes are geometric with the ratios of :class:`Steps` holds the
    one-step neighbours of its inner configurations, so their labels come from the
    lattice itself (:func:`~featurizers.lattice.measure_one_step` trains each
    configuration once, through the cache).

    Examples
    --------
    >>> from featurizers.lattice import lattice
    >>> grid = lattice([0.01, 0.04], [8], [300, 600], fixed=[{"batchnorm": False}])
    >>> [(c.knob_value, c.n_train) for c in grid]
    [(0.01, 300), (0.01, 600), (0.04, 300), (0.04, 600)]
    """
    return [LatticeConfig(k, w, n, fixed=dict(f))
            for f in fixed for k in knob_values for w in widths for n in n_trains]
