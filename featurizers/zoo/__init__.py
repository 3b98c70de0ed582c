"""Model zoos: train a configuration grid on CPU, cached and resumable, labelled by RFI.

Part of sklearn-mdtree (needs the ``torch`` extra). A zoo is a grid of training
configurations (:class:`ZooGrid`: width, batch size, training-set size, learning
rate, label noise, seeds, a fixed number of SGD steps), trained on a task (scikit-
learn's bundled digits by default, or the user's data and model factory), cached
(:func:`train_zoo`'s ``cache_dir``), and turned into a table in the public
collections' column names, labelled by :func:`sklearn_mdtree.rfi.label_configurations`,
on which the MD tree is fitted and compared (:mod:`sklearn_mdtree.compare`)::

    from featurizers.zoo import train_zoo

    zoo = train_zoo("tiny")       # trains, or reads the cache
    table = zoo.featurize()       # loss-landscape features, cached too
"""

# The grid as data, and its size presets
from ._grid import ZOO_PRESETS, Configuration, ZooGrid, zoo_preset

# The recipe and the default digits task
from ._recipe import Recipe, digits_task, noisy_labels, tanh_mlp

# Labels, and the check of a table's structure
from ._labels import KNOB_LABELS, knob_labels, seed_test_errors
from ._structure import (
    STRUCTURE_FIGURES,
    format_structure,
    structure_report,
    structure_table,
    structure_text,
)

# The two training paths
from ._train import batch_schedule, can_stack, train_one, train_stacked

# The cache, and the entry point
from .._cache import ZooCacheWarning, default_cache_dir
from ._zoo import LANDSCAPE_FEATURES, TABLE_COLUMNS, Zoo, train_zoo

# Regeneration across machines
from ._regeneration import (
    REGENERATION_TOLERANCES,
    PerturbedFactory,
    RegenerationCheck,
    RegenerationReport,
    check_regeneration,
    compare_regeneration,
    measure_tolerances,
    regenerate_zoo,
)

__all__ = [
    # Grid
    "ZooGrid",
    "Configuration",
    "ZOO_PRESETS",
    "zoo_preset",
    # Recipe and task
    "Recipe",
    "digits_task",
    "noisy_labels",
    "tanh_mlp",
    # Labels and structure
    "KNOB_LABELS",
    "knob_labels",
    "seed_test_errors",
    "STRUCTURE_FIGURES",
    "format_structure",
    "structure_report",
    "structure_table",
    "structure_text",
    # Training paths
    "batch_schedule",
    "can_stack",
    "train_one",
    "train_stacked",
    # Cache and entry point
    "ZooCacheWarning",
    "default_cache_dir",
    "Zoo",
    "train_zoo",
    "LANDSCAPE_FEATURES",
    "TABLE_COLUMNS",
    # Regeneration across machines
    "PerturbedFactory",
    "regenerate_zoo",
    "compare_regeneration",
    "RegenerationReport",
    "RegenerationCheck",
    "measure_tolerances",
    "check_regeneration",
    "REGENERATION_TOLERANCES",
]
