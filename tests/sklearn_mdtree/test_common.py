"""scikit-learn's estimator checks on generic hierarchies (integer features, majority leaves)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mdtree import Hierarchy, Leaf, MDTreeClassifier, Split


def _generic():
    return Hierarchy(
        Split("t0", 0, left=Split("t1", 1), right=Split("t2", 1, right=Leaf()))
    )


@parametrize_with_checks(
    [
        MDTreeClassifier(_generic()),
        MDTreeClassifier(_generic(), threshold_search="exhaustive"),
        MDTreeClassifier(_generic(), bounds="data"),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
