"""Regenerate the pretrained trees shipped in ``sklearn_mdtree/pretrained/data``.

Each file is the document of :func:`sklearn_mdtree.pretrained._recipes.fit_document`
written with sorted keys (:func:`sklearn_mdtree.pretrained._io.dumps`), so a rerun on
the same data rewrites the same bytes. The F trees need the public collections
(``SKLEARN_MDTREE_DATA`` or the scikit-learn data home); the digits trees need the
default zoo of ``featurizers.zoo`` (its cached table, or a fresh run).

Usage::

    python -m benchmarks.make_pretrained            # every tree
    python -m benchmarks.make_pretrained --only F   # the F trees
    python -m benchmarks.make_pretrained --check    # compare, write nothing
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sklearn_mdtree.pretrained._io import dumps
from sklearn_mdtree.pretrained._recipes import RECIPES, fit_document

DATA = Path(__file__).resolve().parents[1] / "sklearn_mdtree" / "pretrained" / "data"


def source_table(source, zoo_cache=None):
    """The table a recipe's ``source`` names.

    ``"F"``: both public collections. ``"digits-zoo"``: the featurized table of the
    default zoo of :mod:`featurizers.zoo`, read from its cache (``zoo_cache``, or
    the zoo's default cache folder) or computed there first.
    """
    if source == "F":
        from sklearn_mdtree.datasets import fetch_model_diagnosis

        return fetch_model_diagnosis("both").frame
    from featurizers.zoo import train_zoo

    return train_zoo("default", cache_dir=zoo_cache, verbose=0).featurize()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["F", "digits-zoo"], default=None)
    parser.add_argument("--zoo-cache", default=None, help="cache folder of the zoo")
    parser.add_argument("--check", action="store_true",
                        help="report which files differ from a fresh fit; write nothing")
    args = parser.parse_args(argv)
    tables, status = {}, 0
    for name, recipe in RECIPES.items():
        if args.only is not None and recipe["source"] != args.only:
            continue
        if recipe["source"] not in tables:
            tables[recipe["source"]] = source_table(recipe["source"], args.zoo_cache)
        text = dumps(fit_document(name, tables[recipe["source"]]))
        path = DATA / f"{name}.json"
        if args.check:
            same = path.is_file() and path.read_text(encoding="utf-8") == text
            print(f"{name}: {'same' if same else 'DIFFERS'}")
            status |= not same
        else:
            path.write_text(text, encoding="utf-8")
            print(f"{name}: wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
