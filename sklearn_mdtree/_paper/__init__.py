"""Everything pinned to the experiments of the MD tree paper (private).

Anyone editing the library sees here which outputs are pinned to the paper
(Zhou et al., ICML 2024): Table B, the curves of Figures 3a-c, 6a-b, 17, 24 and 28,
and the one-step Tables 1 and 2 of Appendix A. The ``mdtree reproduce`` command
(:mod:`sklearn_mdtree._cli`) and ``benchmarks/reproduce.py`` are thin callers, so that
both print the same numbers from one definition.

Modules
-------
settings
    The experiments as data: settings, reference figures, tolerances.
runs
    The runs (scikit-learn's cross-validation on
    :class:`~sklearn_mdtree.model_selection.FewShotTransfer` splits, and
    :mod:`sklearn_mdtree.one_step`), ours beside the reference figures.
report
    Markdown tables, the ``mdtree reproduce`` text and ``docs/reproduction.md``.
plots
    The plots of ``docs/reproduction.md``.

Every name of the four modules is importable from this package, and so are the method
names, features and :class:`~sklearn_mdtree.compare.Setting` of the public comparison,
:mod:`sklearn_mdtree.compare`, which owns them (this package imports compare, never
the reverse).
"""

from ..compare import (  # noqa: F401
    BRENT,
    DT_RANDOM_STATE,
    EXHAUSTIVE,
    HYPER_DATA,
    HYPER_DT,
    HYPER_Q1,
    HYPER_Q2,
    HYPER_VALID_DT,
    LL_DT,
    LOSS_LANDSCAPE,
    VALID,
    VALID_DT,
    Setting,
)
from .plots import IMAGES, plot_figures, plot_one_step  # noqa: F401
from .report import (  # noqa: F401
    acceptance,
    build_report,
    curve_markdown,
    exhaustive_summary,
    markdown_table,
    one_step_markdown,
    table_b_markdown,
    table_b_report,
    worst_gaps,
    write_report,
)
from .runs import (  # noqa: F401
    fig17_seeded,
    figure_curves,
    one_step_seed,
    one_step_table,
    table_b,
    valid_seeded,
)
from .settings import (  # noqa: F401
    FIGURES,
    ONE_STEP_METHODS,
    ONE_STEP_SETTINGS,
    OPTIMAL,
    PAPER_ONE_STEP,
    PAPER_TABLE_B,
    PRINTED_VALID,
    RANDOM,
    SEEDS,
    STEP_RULES,
    TABLE_B,
    TABLE_B_METHODS,
    TOLERANCE,
    VALID_ONE_STEP,
    Figure,
)
