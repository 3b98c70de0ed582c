"""MDTreeClassifier: a decision tree with a fixed hierarchy and learned thresholds."""

from __future__ import annotations

import numbers

import warnings

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._export import export_text
from ._hierarchy import Hierarchy, get_preset, with_thresholds
from ._search import (
    apply,
    brent_threshold,
    compile_tree,
    exhaustive_threshold,
    leaf_class_weights,
    midpoint,
    position_scores,
)

__all__ = ["MDTreeClassifier"]


class MDTreeClassifier(ClassifierMixin, BaseEstimator):
    """Model-diagnostic tree: a fixed hierarchy whose thresholds alone are learned.

    The MD tree of Zhou et al. (ICML 2024) decides from loss-landscape metrics
    of a trained model (training error, mode connectivity, Hessian sharpness,
    CKA similarity) which hyperparameter is to blame for its failure. The
    order of the questions is fixed; only the split thresholds are fitted, one
    split at a time in the hierarchy's declared order, each maximising the
    (sample-weighted) training accuracy with the others held at their current
    values.

    Parameters
    ----------
    hierarchy : str or Hierarchy, default="q1_sharpness"
        The fixed tree. A preset name (see :func:`get_preset`: ``"q1"``,
        ``"q1_sharpness"``, ``"q1_similarity"``, ``"q1_ood"``, ``"q2"``,
        ``"q2_width"``, ``"q2_data"``) or a :class:`Hierarchy`. Pass
        ``get_preset(name)`` to expose the thresholds and bounds as nested
        parameters (``hierarchy__t2__bounds``) for grid search.
    threshold_search : {"brent", "exhaustive"}, default="brent"
        ``"brent"``: one pass of bounded Brent search per split
        (:func:`scipy.optimize.minimize_scalar`), the paper's method.
        ``"exhaustive"``: the exact best threshold of each split among the
        midpoints of the sorted feature values inside its bounds (the middle
        of the widest best run on ties), sweeping the splits top-down until
        no threshold moves or ``max_sweeps`` sweeps are done.
    bounds : {"hierarchy", "data"}, default="hierarchy"
        ``"hierarchy"`` searches each threshold within the bounds its split
        declares (the training range of the feature where it declares none).
        ``"data"`` always uses the training range of each split's feature:
        useful when the features live on another scale than the paper's. A
        declared initial threshold outside that range is replaced by the middle
        of the range.
    xatol : float, default=1e-5
        Absolute tolerance of the Brent search (scipy's option and default).
    maxiter : int, default=500
        Maximum number of iterations per Brent search (scipy's option and
        default).
    max_sweeps : int, default=10
        Maximum number of top-down sweeps of the exhaustive search.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels: those seen in ``y`` and those the leaves can emit.
    n_features_in_ : int
        Number of features seen in :meth:`fit` (for DataFrames with named
        splits: the number of columns the splits use).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen in :meth:`fit`, when they are all strings.
    hierarchy_ : Hierarchy
        The hierarchy with its fitted thresholds and the bounds searched.
    thresholds_ : dict of str to float
        Fitted threshold of each split, in fitting order.
    bounds_ : dict of str to tuple of float
        Interval each threshold was searched in.
    leaf_class_weight_ : ndarray of shape (n_leaves, n_classes)
        Weighted class counts of the training samples at each leaf.
    leaf_labels_ : ndarray of shape (n_leaves,)
        The class each leaf (regime) predicts.
    n_sweeps_ : int
        Number of top-down sweeps done (1 for Brent).
    train_score_ : float
        Weighted training accuracy of the fitted tree.

    See Also
    --------
    sklearn.tree.DecisionTreeClassifier : A tree whose structure is learned too.

    Notes
    -----
    Samples with ``value <= threshold`` go left. Leaves are numbered in
    pre-order; :meth:`apply` returns this leaf (regime) number.
    :meth:`predict_proba` returns the training class frequencies at each leaf,
    so for a leaf with a fixed label that is not its majority class the
    label predicted and the largest probability can differ; leaves no
    training sample reached predict their label with probability one (or the
    training class prior for unlabelled leaves).

    References
    ----------
    Y. Zhou, J. Chen, Q. Cao, K. Schürholt, Y. Yang. "MD tree: a
    model-diagnostic tree grown on loss landscape." ICML 2024.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_mdtree import MDTreeClassifier
    >>> X = pd.DataFrame({"train_error": [0.1, 0.2, 5.0, 6.0, 7.0],
    ...                   "mode_connectivity_peak": [-1, -2, -40, -35, -2],
    ...                   "hessian_t": [8, 8, 5, 8.5, 6]})
    >>> y = ["small", "small", "large", "small", "large"]
    >>> clf = MDTreeClassifier("q1").fit(X, y)
    >>> clf.predict(X).tolist()
    ['small', 'small', 'large', 'small', 'large']
    """

    _parameter_constraints: dict = {
        "hierarchy": [str, Hierarchy],
        "threshold_search": [StrOptions({"brent", "exhaustive"})],
        "bounds": [StrOptions({"hierarchy", "data"})],
        "xatol": [Interval(numbers.Real, 0, None, closed="neither")],
        "maxiter": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_sweeps": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        hierarchy="q1_sharpness",
        *,
        threshold_search="brent",
        bounds="hierarchy",
        xatol=1e-5,
        maxiter=500,
        max_sweeps=10,
    ):
        self.hierarchy = hierarchy
        self.threshold_search = threshold_search
        self.bounds = bounds
        self.xatol = xatol
        self.maxiter = maxiter
        self.max_sweeps = max_sweeps

    # -- input handling -----------------------------------------------------------------
    def _get_hierarchy(self) -> Hierarchy:
        if isinstance(self.hierarchy, str):
            return get_preset(self.hierarchy)
        return self.hierarchy.validate()

    def _validate_X(self, X, hierarchy, reset, y="no_validation", splits=None):
        """Select and check the columns the splits use; return (X, y, column map)."""
        splits = hierarchy.splits() if splits is None else splits
        features = list(dict.fromkeys(s.feature for s in splits))
        named = bool(features) and isinstance(features[0], str)
        if named:
            if not hasattr(X, "columns"):
                raise TypeError(
                    f"The hierarchy names its features {features}, so X must be a pandas "
                    f"DataFrame with these columns. Got {type(X).__name__} instead. In a "
                    f"Pipeline, call .set_output(transform='pandas') on it so that the "
                    f"featurizer passes its column names on."
                )
            if isinstance(X.columns, pd.MultiIndex):  # "a" in it matches ("a", "b")
                raise TypeError(
                    f"X has {X.columns.nlevels} levels of column names; the hierarchy "
                    f"names single columns {features}. Flatten them first, e.g. "
                    f"X.columns = X.columns.get_level_values(0)."
                )
            missing = [f for f in features if f not in X.columns]
            if missing:
                raise ValueError(
                    f"X is missing the column(s) {missing} that the hierarchy uses. "
                    f"Columns of X: {list(X.columns)}."
                )
            duplicated = sorted({c for c in X.columns[X.columns.duplicated()] if c in features})
            if duplicated:
                raise ValueError(f"X has more than one column named {duplicated}.")
            if list(X.columns) != features:
                X = X[features]
            non_numeric = [f for f in features if not pd.api.types.is_numeric_dtype(X[f])
                           or pd.api.types.is_complex_dtype(X[f])]
            if non_numeric:
                raise ValueError(
                    f"The column(s) {non_numeric} of X that the hierarchy uses must be "
                    "numeric (real numbers). Got dtype(s) "
                    f"{[str(X[f].dtype) for f in non_numeric]}."
                )
        kwargs = dict(ensure_all_finite=False, dtype=np.float64, reset=reset)
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if named:
            column = {f: i for i, f in enumerate(features)}
        else:
            too_large = [f for f in features if f >= X.shape[1]]
            if too_large:
                raise ValueError(
                    f"X has {X.shape[1]} feature(s), but the hierarchy uses feature "
                    f"index(es) {too_large}."
                )
            column = {f: f for f in features}
        finite = np.isfinite(X[:, [column[f] for f in features]]).all(axis=0)
        for split in splits:
            if not finite[features.index(split.feature)]:
                raise ValueError(
                    f"Input X contains NaN or inf in feature {split.feature!r}, which split "
                    f"{split.name!r} uses. Remove or impute these rows first."
                )
        return X, y, column

    # -- fitting ------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the thresholds of the fixed hierarchy.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Model features. With a hierarchy that names its features, a
            DataFrame whose columns are matched by name (others are ignored).
        y : array-like of shape (n_samples,)
            Diagnosis labels. A single class is accepted, as
            :class:`~sklearn.tree.DecisionTreeClassifier` accepts it, with a
            ``UserWarning``: every leaf then predicts that class and no threshold is
            searched. (Fitting a diagnosis on a user's table refuses it instead:
            :func:`sklearn_mdtree.pretrained._recipes.training_rows`.)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights; ``None`` weighs all samples equally.

        Returns
        -------
        self : MDTreeClassifier
            Fitted estimator.
        """
        hierarchy = self._get_hierarchy()
        splits = hierarchy.splits()
        leaves = hierarchy.leaves()
        X, y, column = self._validate_X(X, hierarchy, reset=True, y=y, splits=splits)
        y_classes, y_code = _encode_labels(y)
        leaf_labels = list(dict.fromkeys(lf.label for lf in leaves if lf.label is not None))
        if all(lf.label is not None for lf in leaves):  # every leaf has a fixed label
            unknown = sorted(set(y_classes.tolist()) - set(leaf_labels), key=str)
            if unknown:
                raise ValueError(
                    f"y contains label(s) {unknown} that no leaf of the hierarchy can emit; "
                    f"the leaves emit {leaf_labels}."
                )
        w = None
        if sample_weight is not None:
            w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)

        leaf_kinds = {_kind(lab) for lab in leaf_labels}
        y_kinds = {_kind(c) for c in y_classes.tolist()}
        if leaf_kinds and leaf_kinds != y_kinds:
            raise ValueError(
                f"The hierarchy's leaf labels {leaf_labels} and the labels of y "
                f"{y_classes.tolist()[:6]} must be of one type (all strings or all numbers)."
            )
        single_class = len(y_classes) == 1
        if single_class:
            # DecisionTreeClassifier fits one class silently (a single leaf); here the
            # hierarchy would look fitted although no threshold was searched.
            warnings.warn(
                f"y has one class ({y_classes[0]!r}): every leaf predicts it and the "
                "thresholds are not fitted (they keep their initial values). A diagnosis "
                "needs training configurations of both classes.",
                UserWarning,
                stacklevel=3,
            )
        extra = [lab for lab in leaf_labels if lab not in set(y_classes.tolist())]
        if single_class or not extra:
            self.classes_ = y_classes
        else:  # leaves may emit a label absent from this training set
            self.classes_ = np.unique(np.concatenate([y_classes, np.asarray(extra)]))
            y_code = np.searchsorted(self.classes_, y)
        code = {c: i for i, c in enumerate(self.classes_.tolist())}
        tree = compile_tree(
            hierarchy.root,
            [s.name for s in splits],
            column,
            dict.fromkeys(leaf_labels, 0) if single_class else code,
        )
        if single_class:  # every leaf predicts the one class seen
            tree = _relabel(tree, 0)

        bounds, thresholds = [], []
        for s in splits:
            if self.bounds == "data" or s.bounds is None:
                values = X[:, column[s.feature]]
                b = (float(values.min()), float(values.max()))
            else:
                b = (float(s.bounds[0]), float(s.bounds[1]))
            init = s.threshold
            if init is None or not b[0] <= init <= b[1]:
                # no initial value, or one outside the training range: start mid-range
                # (pinned to an edge it would steer the splits fitted before it)
                init = midpoint(b[0], b[1])
            bounds.append(b)
            thresholds.append(float(init))
        thresholds = np.array(thresholds, dtype=np.float64)

        total = X.shape[0] if w is None else float(w.sum())
        n_classes = len(self.classes_)
        sweeps = 0
        if not single_class:
            n_max = 1 if self.threshold_search == "brent" else self.max_sweeps
            presorted = {c: np.argsort(X[:, c], kind="stable") for c in set(tree.column)}
            for sweeps in range(1, n_max + 1):
                previous = thresholds.copy()
                for k in range(len(splits)):
                    values, scores = position_scores(
                        tree, X, y_code, w, thresholds, k, n_classes,
                        presorted=presorted[tree.column[k]],
                    )
                    if self.threshold_search == "brent":
                        thresholds[k] = brent_threshold(
                            values, scores, total, bounds[k],
                            xatol=self.xatol, maxiter=self.maxiter,
                        )
                    elif len(values):
                        thresholds[k] = exhaustive_threshold(values, scores, bounds[k])
                if np.array_equal(previous, thresholds):
                    break

        leaf = apply(tree, X, thresholds)
        counts = leaf_class_weights(tree, leaf, y_code, w, n_classes).astype(np.float64)
        prior = counts.sum(axis=0)
        fixed = tree.leaf_class
        majority = np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), prior.argmax())
        leaf_code = np.where(fixed >= 0, fixed, majority)

        self._tree = tree
        self._thresholds = thresholds
        self.leaf_class_weight_ = counts
        self.leaf_labels_ = self.classes_[leaf_code]
        self._leaf_proba = _leaf_probabilities(counts, fixed)
        self.thresholds_ = {s.name: float(t) for s, t in zip(splits, thresholds)}
        self.bounds_ = {s.name: b for s, b in zip(splits, bounds)}
        self.hierarchy_ = Hierarchy(
            with_thresholds(hierarchy.root, self.thresholds_, self.bounds_),
            hierarchy.order,
            hierarchy.task,
        )
        self.n_sweeps_ = max(sweeps, 1)
        correct = counts[np.arange(len(leaf_code)), leaf_code].sum()
        self.train_score_ = float(correct / total) if total > 0 else float("nan")
        return self

    # -- prediction -----------------------------------------------------------------
    def apply(self, X):
        """Return the leaf (regime) number each sample falls in.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        leaf : ndarray of int, shape (n_samples,)
            Leaf numbers in pre-order, ``0 .. n_leaves - 1``.
        """
        check_is_fitted(self)
        X, _, _ = self._validate_X(X, self.hierarchy_, reset=False)
        return apply(self._tree, X, self._thresholds)

    def predict_proba(self, X):
        """Class frequencies of the training samples in each sample's leaf.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._leaf_proba[self.apply(X)]

    def predict(self, X):
        """Predict the diagnosis label of each sample.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.leaf_labels_[self.apply(X)]

    def decision_path(self, X):
        """Node indicator matrix of the path each sample takes.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        indicator : sparse matrix of shape (n_samples, n_nodes)
            CSR matrix; entry ``(i, j)`` is 1 when sample ``i`` passes node
            ``j`` (nodes numbered in pre-order, as in :meth:`export_text`).
        """
        check_is_fitted(self)
        X, _, _ = self._validate_X(X, self.hierarchy_, reset=False)
        masks = {}
        apply(self._tree, X, self._thresholds, masks=masks)
        nodes = np.array(sorted(masks))
        dense = np.column_stack([masks[node] for node in nodes])
        rows, cols = np.nonzero(dense)
        cols = nodes[cols]
        shape = (X.shape[0], self._tree.n_nodes)
        indicator = sparse.csr_matrix((np.ones(len(rows), dtype=np.int64), (rows, cols)), shape)
        indicator.sort_indices()
        return indicator

    def export_text(self, *, decimals=2, show_weights=False, show_actions=True):
        """Return the fitted tree as indented text rules.

        Parameters
        ----------
        decimals : int, default=2
            Decimals of the thresholds.
        show_weights : bool, default=False
            Also print the training class counts at each leaf.
        show_actions : bool, default=True
            Print what each leaf's label recommends, when the hierarchy names
            its task.

        Returns
        -------
        report : str
        """
        return export_text(
            self, decimals=decimals, show_weights=show_weights, show_actions=show_actions
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_class = True
        tags.target_tags.required = True
        return tags


def _leaf_probabilities(counts, fixed):
    """Class frequencies at each leaf from its training class weights ``counts``.

    A leaf no training sample reached predicts its fixed label (``fixed >= 0``)
    with probability one, or the training class prior when it has none.
    """
    n_classes = counts.shape[1]
    prior = counts.sum(axis=0)
    empty_proba = np.where(
        (fixed >= 0)[:, None],
        np.eye(n_classes)[np.maximum(fixed, 0)],
        prior / prior.sum(),
    )
    sums = counts.sum(axis=1, keepdims=True)
    return np.where(sums > 0, counts / np.where(sums > 0, sums, 1), empty_proba)


def _encode_labels(y):
    """Sorted classes and the class code of each label.

    Object and string labels take a hash-based path (:func:`pandas.factorize`),
    several times faster than sorting an object array, which also finds
    missing labels and a mix of strings and numbers. Anything else goes
    through scikit-learn's checks.
    """
    if y.dtype.kind in "OUS":
        codes, uniques = pd.factorize(y, sort=False)
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            raise ValueError(
                f"y contains {len(missing)} missing label(s) (None or NaN), e.g. at "
                f"position(s) {missing[:5].tolist()}. Drop or label these rows first."
            )
        kinds = {_kind(u) for u in uniques}
        if len(kinds) > 1:
            raise ValueError(
                f"y mixes string and numeric labels: {sorted(map(repr, uniques))[:6]}. "
                f"Use one type for all labels."
            )
        if kinds == {"string"}:
            order = np.argsort(np.asarray(uniques, dtype=str), kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            return np.asarray(uniques, dtype=object)[order], rank[codes].astype(np.intp)
    check_classification_targets(y)
    return np.unique(y, return_inverse=True)


def _kind(label):
    return "string" if isinstance(label, str) else "number"


def _relabel(tree, code):
    """Return ``tree`` with every leaf labelled ``code``."""
    from dataclasses import replace

    return replace(tree, leaf_class=np.full_like(tree.leaf_class, code))
