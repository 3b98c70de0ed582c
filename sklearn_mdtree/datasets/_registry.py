"""Where the public model-diagnosis collections live, and their checksums.

One table, as in ``scipy.datasets``: file name -> sha256. The files are the CSVs
published with the MD tree paper (repository ``YefanZhou/ModelDiagnosis``, MIT licence),
read from a pinned commit so that the checksums never go stale.
"""

from types import MappingProxyType

#: Commit of ``YefanZhou/ModelDiagnosis`` the files are downloaded from.
COMMIT = "a212a0a11951e0f72361a0ef76e1b5aaabefc2f8"

#: Address of the folder holding the files at that commit (append the file name).
BASE_URL = (
    "https://raw.githubusercontent.com/YefanZhou/ModelDiagnosis/"
    f"{COMMIT}/model_diagnosis_dataset/dataframe/"
)

#: File name -> sha256 of its content.
REGISTRY = MappingProxyType(
    {
        "dataframe_normal_public.csv": (
            "3e1fb0019ff555252839c7d096b0a28300d30215c522334670fb61438df582fe"
        ),
        "dataframe_noise_public.csv": (
            "9e8c35c1438d456fcd5729293f2cbbc1ed06b2cede0e0e75192b2e53dd81d70c"
        ),
    }
)

#: Collection name -> file name. ``normal`` is the paper's F, ``noise`` its F'.
COLLECTION_FILES = MappingProxyType(
    {
        "normal": "dataframe_normal_public.csv",
        "noise": "dataframe_noise_public.csv",
    }
)

#: Environment variable naming a local folder that holds the files.
DATA_ENV_VAR = "SKLEARN_MDTREE_DATA"
