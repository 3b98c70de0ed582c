"""Regenerate the pretrained trees shipped in ``sklearn_mdtree/pretrained/data``.

Each file is the document of :func:`sklearn_mdtree.pretrained._recipes.fit_document`
written with sorted keys (:func:`sklearn_mdtree.pretrained._io.dumps`), so a rerun on
the same data rewrites the same bytes. Each document also records the tree's
out-of-fold accuracy per regime, keep-as-is per leaf, the recipe of its training
features and its held-out validity on the transfer it is meant for (clean -> noisy
labels); a tree whose validity does not clearly beat a constant answer
(``is_shippable``) is not written, and its file is removed. The F trees need the public collections
(``SKLEARN_MDTREE_DATA`` or the scikit-learn data home). The digits trees are fitted
on the default zoo's feature table ``digits-zoo-features.csv``, which this script
writes first from a run of the default zoo of ``featurizers.zoo`` (its cache, or
minutes of training and featurizing), then reads back: the documents are exactly
what the shipped table gives (``--from-table`` refits on the shipped table alone,
for a change of the domain or the tree code that leaves the zoo as it is). Beside
the table it writes the record of the machine that made it (CPU model, Python,
numpy and torch versions, and the table's SHA-256) in
``digits-zoo-features.machine.json``, shipped with the table (the digits documents
copy it as ``provenance["table_machine"]``): SGD is chaotic, and only on that
machine must a fresh zoo run give the table's rows bit for bit.

Usage::

    python -m benchmarks.make_pretrained            # every tree (and the zoo's table)
    python -m benchmarks.make_pretrained --only F   # the F trees
    python -m benchmarks.make_pretrained --only digits-zoo --from-table
    python -m benchmarks.make_pretrained --check    # compare, write nothing
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sklearn_mdtree.diagnosis._shipping import TreeValidity, is_shippable
from sklearn_mdtree.pretrained._io import dumps
from sklearn_mdtree.pretrained._recipes import (
    RECIPES,
    ZOO_TABLE,
    ZOO_TABLE_MACHINE,
    fit_document,
    machine_provenance,
    read_table_machine,
    read_zoo_table,
    table_csv,
    table_machine_record,
)

DATA = Path(__file__).resolve().parents[1] / "sklearn_mdtree" / "pretrained" / "data"


def zoo_table_text(zoo_cache=None):
    """The canonical CSV text of a fresh default zoo's feature table.

    The zoo is read from its cache (``zoo_cache``, or the zoo's default cache
    folder) or trained and featurized there first. Raises if the text does not
    read back to the same table (so the documents fitted on the read-back table
    are those of the zoo's).
    """
    from featurizers.zoo import train_zoo

    table = train_zoo("default", cache_dir=zoo_cache, verbose=0).featurize()
    text = table_csv(table)
    if table_csv(read_zoo_table(text)) != text:
        raise RuntimeError("The zoo's feature table does not survive a CSV round trip.")
    return text


def source_table(source, zoo_cache=None, from_table=False):
    """The table a recipe's ``source`` names, and the zoo table's CSV text (or None).

    ``"F"``: both public collections. ``"digits-zoo"``: the default zoo's feature
    table, from a run of the zoo (:func:`zoo_table_text`) or, with
    ``from_table``, the shipped ``digits-zoo-features.csv``.
    """
    if source == "F":
        from sklearn_mdtree.datasets import fetch_model_diagnosis

        return fetch_model_diagnosis("both").frame, None
    text = (DATA / ZOO_TABLE).read_text(encoding="utf-8") if from_table else zoo_table_text(
        zoo_cache)
    return read_zoo_table(text), text


def print_structure(zoo_table):
    """Print the zoo's structure report beside F and F' (when the collections are here)."""
    from featurizers.zoo import structure_text

    try:
        from sklearn_mdtree.datasets import fetch_model_diagnosis

        public = fetch_model_diagnosis("both", download_if_missing=False).frame
    except Exception as exc:  # the zoo's figures stand alone
        public = None
        print(f"(F and F' not available: {type(exc).__name__})")
    print("Structure of the zoo's table (featurizers.zoo.structure_report), bs_failure:")
    print(structure_text(zoo_table, public))


def _shipped_table_machine():
    """The machine of the shipped table's record (``ZOO_TABLE_MACHINE``), or None."""
    record = read_table_machine()
    return None if record is None else record["machine"]


def _compare_or_write(path, text, check):
    if check:
        same = path.is_file() and path.read_text(encoding="utf-8") == text
        print(f"{path.name}: {'same' if same else 'DIFFERS'}")
        return not same
    path.write_text(text, encoding="utf-8")
    print(f"{path.name}: wrote {path}")
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["F", "digits-zoo"], default=None)
    parser.add_argument("--zoo-cache", default=None, help="cache folder of the zoo")
    parser.add_argument("--from-table", action="store_true",
                        help=f"fit the digits trees on the shipped {ZOO_TABLE} (no zoo run)")
    parser.add_argument("--check", action="store_true",
                        help="report which files differ from a fresh fit; write nothing")
    args = parser.parse_args(argv)
    tables, status = {}, 0
    for name, recipe in RECIPES.items():
        source = recipe["source"]
        if args.only is not None and source != args.only:
            continue
        if source not in tables:
            tables[source], text = source_table(source, args.zoo_cache, args.from_table)
            if source == "digits-zoo":
                print_structure(tables[source])
            if text is not None and not args.from_table:
                status |= _compare_or_write(DATA / ZOO_TABLE, text, args.check)
                # the machine that made the table, beside it (this one: it just ran)
                record = table_machine_record(text, machine_provenance())
                status |= _compare_or_write(DATA / ZOO_TABLE_MACHINE, dumps(record),
                                            args.check)
        machine = None
        if source == "digits-zoo":
            # the machine that made the table: this one after a zoo run, else the one
            # the shipped record names (None without a record of the shipped table)
            machine = (_shipped_table_machine() if args.from_table
                       else machine_provenance())
        document = fit_document(name, tables[source], table_machine=machine)
        validity = TreeValidity.from_dict(document["validity"])
        path = DATA / f"{name}.json"
        if not is_shippable(validity):
            # a tree that does not clearly beat a constant answer on its held-out set
            # is not shipped (its file, if any, is removed)
            print(f"{name}: NOT SHIPPED: {validity.to_text()}; the lower end of its 95% "
                  "interval does not exceed the constant answer")
            if path.exists():
                if args.check:
                    print(f"{path.name}: DIFFERS (should not be shipped)")
                    status = 1
                else:
                    path.unlink()
                    print(f"{path.name}: removed")
            continue
        status |= _compare_or_write(path, dumps(document), args.check)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
