"""Datasets of sklearn-mdtree: the public model-diagnosis collections of the MD tree paper."""

from ._model_diagnosis import fetch_model_diagnosis, read_model_diagnosis_csv

__all__ = ["fetch_model_diagnosis", "read_model_diagnosis_csv"]
