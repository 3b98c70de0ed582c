"""The package's vocabulary, defined once: feature names, their words and plot labels,
the diagnosis questions and the report's schema.

Every module that spells one of these names imports it from here (the featurizers
too: this module imports nothing, so reading it never loads torch).
"""

__all__ = []

# --------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------

#: The loss-landscape features (what ``featurizers.LossLandscapeFeaturizer``
#: computes); a tree's domain records the training distribution of each one its
#: training table has, whether or not its splits read it.
LOSS_LANDSCAPE_FEATURES = (
    "train_error",
    "train_loss",
    "hessian_t",
    "hessian_e",
    "mode_connectivity_peak",
    "mode_connectivity",
    "CKA",
)

#: Optional features of the weights' movement (``featurizers.weights``): the ratio of
#: their norm to a fresh initialisation's, and their displacement from the group's
#: initial weights. Not in the public collections.
WEIGHT_FEATURES = ("weight_norm_ratio", "weight_displacement")

#: The features computed on pairs of a group's models (two or more seeds needed).
PAIRWISE_FEATURES = ("mode_connectivity_peak", "mode_connectivity", "CKA")

#: The connectivity features (a curve trained between two models).
CONNECTIVITY_FEATURES = ("mode_connectivity_peak", "mode_connectivity")

#: The validation features (``featurizers.ValidationFeaturizer``).
VALIDATION_FEATURES = ("train_error", "train_loss", "test_error", "test_loss")

#: The hyperparameter features (``featurizers.HyperparameterFeaturizer``).
HYPERPARAMETER_FEATURES = ("log_data_amount", "log_para_amount")

#: The features of the paper's Loss-landscape+DT baseline, in the authors' order. A
#: decision tree breaks ties between equally good splits by feature order, so this
#: order (not ``LOSS_LANDSCAPE_FEATURES``') is the one the paper's figures need.
LL_DT_FEATURES = ("train_error", "mode_connectivity_peak", "CKA", "hessian_t")

#: The features of the paper's Valid+DT baseline, in the authors' order (ties, as above).
VALID_DT_FEATURES = ("train_error", "train_loss", "test_loss", "test_error")

#: The features ``mdtree featurize`` computes by default.
DEFAULT_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t", "CKA")

#: The features the paper's Q1 trees read (``q1``/``q1_sharpness``).
Q1_FEATURES = ("train_error", "mode_connectivity_peak", "hessian_t")

#: Axis labels of the plots and of the HTML report.
FEATURE_LABELS = {
    "train_error": "training error (%)",
    "test_error": "test error (%)",
    "train_loss": "training loss (cross-entropy)",
    "test_loss": "test loss (cross-entropy)",
    "mode_connectivity_peak": "connectivity: minus the peak error on the curve (%)",
    "mode_connectivity": "connectivity: signed error gap on the curve (%)",
    "hessian_t": "sharpness: ln(Hessian trace)",
    "hessian_e": "sharpness: ln(top Hessian eigenvalue)",
    "CKA": "similarity: CKA of two seeds (0 to 1)",
}

# --------------------------------------------------------------------------------------
# Questions (label columns)
# --------------------------------------------------------------------------------------

#: The Q1 label column: is the optimizer's temperature too high or too low?
Q1_TASK = "bs_failure"
#: The Q2 label columns: model size (or data amount) versus the optimizer.
Q2_TASKS = ("width_vs_batch", "data_vs_batch")

#: Each question in words, as the reports print it.
QUESTIONS = {
    "bs_failure": "Q1: is the optimizer's temperature too high or too low?",
    "width_vs_batch": "Q2: is the model too small, or is the optimizer to blame?",
    "data_vs_batch": "Q2: is the data too little, or is the optimizer to blame?",
}

# --------------------------------------------------------------------------------------
# The diagnosis report's schema
# --------------------------------------------------------------------------------------

#: Schema name and version of ``DiagnosisReport.to_dict``.
SCHEMA = "sklearn-mdtree/diagnosis-report"
SCHEMA_VERSION = 2


# --------------------------------------------------------------------------------------
# Few-shot transfer
# --------------------------------------------------------------------------------------

#: Sampling schemes of the training set, and the figures of the paper that use them
#: (:data:`sklearn_mdtree.model_selection.SCHEMES`).
SCHEMES = {
    "random_pairs": "k random (data, width) pairs, every row of each (Fig. 3a)",
    "random_data": "k random data amounts, every row of each (Fig. 6a)",
    "random_width": "k random widths, every row of each (Fig. 24)",
    "data_limit": "every row with data <= k (Fig. 3b, 6b)",
    "width_limit": "every row with width <= k (Fig. 3c)",
}
