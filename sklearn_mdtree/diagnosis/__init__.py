"""Diagnosing model groups: the one diagnosis, its report and how it is rendered.

:func:`sklearn_mdtree.diagnose` ``(X, tree=..., fit_on=...)`` is the one diagnosis:
whatever the trees (a shipped tree, a tree file, a labelled table to fit on, the
public collection F), it returns a :class:`DiagnosisReport` with the same domain
checks and margins, rendered as text, a table, a dict or an HTML page.
:func:`recommend` is its routing and one-step rule alone (fitted trees in, moves out),
:func:`recommend_moves` the same rule on label arrays.

Modules: ``_diagnose`` (the function), ``_trees`` (choosing, loading or fitting the
trees), ``_recommend`` (routing and rule), ``_report`` (the report classes and their
text), ``_wording`` (causes and warnings in words), ``_html`` (the HTML page),
``_failure`` (did training fail?), ``_validity`` (regime accuracy, abstention, keep as
is, confidence, a tree's measured validity), ``_recipe`` (how the features were
computed, and the check against a tree's recipe).
"""

from .._lazy import attach

#: Public name -> the module (relative to this package) that defines it. They are
#: imported when first used (:pep:`562`): the featurizers read a table's recipe
#: (``_kinds``, ``_recipe``) without the diagnosis's other imports.
_LAZY = {
    "DiagnosisReport": "._report",
    "GroupReport": "._report",
    "VerdictReport": "._report",
    "DecisionReport": "._report",
    "FeatureReport": "._report",
    "recommend": "._recommend",
    "recommend_moves": "._recommend",
    "Decision": "._recommend",
    "Diagnosis": "._recommend",
    "Recommendation": "._recommend",
    "TreeVerdict": "._recommend",
    "one_step_gains": "..one_step",
    "optimal_diagnosis_moves": "..one_step",
    "random_diagnosis_gains": "..one_step",
}

__all__ = [
    # the diagnosis and its report
    "diagnose",
    "DiagnosisReport",
    "GroupReport",
    "VerdictReport",
    "DecisionReport",
    "FeatureReport",
    # routing and the one-step rule
    "recommend",
    "recommend_moves",
    "Decision",
    "Diagnosis",
    "Recommendation",
    "TreeVerdict",
    # the gains of one-step moves (sklearn_mdtree.one_step)
    "one_step_gains",
    "optimal_diagnosis_moves",
    "random_diagnosis_gains",
]


def diagnose(*args, **kwargs):
    """:func:`sklearn_mdtree.diagnose`; the old call ``diagnose(q1_tree, X)`` is deprecated.

    ``diagnose(X, tree=...)`` returns the :class:`DiagnosisReport`. Called the old
    way, with a fitted tree first (``diagnose(q1_tree, X, q2_tree=...,
    optimizer_name=...)``), it warns (FutureWarning; removed in 0.2) and returns
    :func:`recommend`'s :class:`Diagnosis`.
    """
    from .._classes import MDTreeClassifier
    from ._diagnose import diagnose as _diagnose
    from ._recommend import recommend

    first = args[0] if args else kwargs.get("q1_tree")
    if isinstance(first, MDTreeClassifier):
        import warnings

        warnings.warn(
            "sklearn_mdtree.diagnosis.diagnose(q1_tree, X) is deprecated and will be "
            "removed in 0.2: use sklearn_mdtree.diagnosis.recommend(q1_tree, X) for the "
            "recommendations, or sklearn_mdtree.diagnose(X, tree=...) for the full report.",
            FutureWarning,
            stacklevel=2,
        )
        return recommend(*args, **kwargs)
    return _diagnose(*args, **kwargs)


__getattr__, __dir__ = attach(__name__, _LAZY)
