"""``mdtree presets``: the paper's hierarchies, or one's structure before fitting."""

from __future__ import annotations

from ._common import CommandError
from ._output import Result

__all__ = []


def add_parser(sub):
    pre = sub.add_parser(
        "presets",
        help="list the paper's hierarchies or print one",
        description="List the MD tree hierarchies of the paper, or print the structure "
        "of one (features, initial thresholds, bounds, leaves) before fitting.",
    )
    pre.add_argument("name", nargs="?", default=None, help="preset to print (default: list all)")
    return pre


def outputs(args):
    return []


def inputs(args):
    return []


def structure_lines(root):
    """The unfitted hierarchy as indented text, with initial thresholds and bounds."""
    from .._export import rule_lines

    def split_sides(split):
        init = "mid-bounds" if split.threshold is None else f"{split.threshold:g}"
        bounds = ("data range" if split.bounds is None
                  else f"[{split.bounds[0]:g}, {split.bounds[1]:g}]")
        about = f"  [{split.name}: init {init}, bounds {bounds}]"
        return (f"{split.feature} <= {split.name}{about}", f"{split.feature} >  {split.name}")

    def leaf_text(leaf, regime):
        label = "majority" if leaf.label is None else leaf.label
        return f"class: {label}  (regime {regime})"

    return rule_lines(root, split_sides, leaf_text)


def run(args):
    from .._hierarchy import PRESETS, get_preset

    if args.name is None:
        width = max(map(len, PRESETS))
        lines = [f"{name:<{width}}  {description}" for name, (_, description) in PRESETS.items()]
        lines.append("Aliases: q1 -> q1_sharpness, q2 -> q2_width. "
                     "`mdtree presets NAME` prints a structure.")
        return Result("\n".join(lines) + "\n")
    try:
        hierarchy = get_preset(args.name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    order = ", ".join(s.name for s in hierarchy.splits())
    task = getattr(hierarchy, "task", None)
    about = f" (labels of {task})" if task else ""
    lines = [f"{args.name}{about}; fitting order: {order}"]
    lines += structure_lines(hierarchy.root)
    return Result("\n".join(lines) + "\n")
