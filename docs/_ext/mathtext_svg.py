"""Math in the HTML docs without MathJax: matplotlib's mathtext, inlined as SVG.

Sphinx's default HTML math renderer loads MathJax from a CDN, which the build
machines and many readers' machines cannot reach (the TeX then shows raw). This
renderer draws each ``:math:`` role and ``.. math::`` block with matplotlib's
mathtext (a TeX subset: fractions, sub- and superscripts, Greek letters, common
operators) into an SVG image inlined in the page as a ``data:`` URI, so the pages
need nothing from outside. A formula mathtext cannot parse fails the build, naming
the document and the formula.
"""

from __future__ import annotations

import base64
import html
import io

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Size of inline math, in points; the page's text is about this size, so 1 em = 10 pt.
FONT_SIZE = 10.0


def render_svg(latex, fontsize=FONT_SIZE):
    """Return ``(svg bytes, width, height, depth)`` of ``latex`` (points).

    The SVG canvas is exactly the formula's box (no padding, transparent), so that
    a height of ``height / fontsize`` em matches the surrounding text.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import mathtext, rcParams
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    text = f"${latex.strip()}$"
    prop = FontProperties(size=fontsize)
    with matplotlib.rc_context({"mathtext.fontset": "dejavuserif", "svg.fonttype": "path",
                                "svg.hashsalt": "mathtext"}):
        parser = mathtext.MathTextParser("path")
        width, height, depth, _, _ = parser.parse(text, dpi=72, prop=prop)
        fig = Figure(figsize=(width / 72, height / 72))
        fig.text(0, depth / height, text, fontproperties=prop, color=rcParams["text.color"])
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=72, format="svg", transparent=True,
                    metadata={"Date": None})
    return buffer.getvalue(), width, height, depth


def _img(self, node, latex, block):
    try:
        svg, width, height, depth = render_svg(latex)
    except Exception as exc:  # mathtext's ValueError for unsupported TeX
        logger.warning("mathtext cannot draw %r: %s", latex, str(exc).splitlines()[0],
                       location=node)
        self.body.append(f"<code>{html.escape(latex)}</code>")
        raise nodes.SkipNode from None
    data = base64.b64encode(svg).decode("ascii")
    style = f"height: {height / FONT_SIZE:.3f}em; vertical-align: {-depth / FONT_SIZE:.3f}em"
    img = (f'<img class="math" src="data:image/svg+xml;base64,{data}" '
           f'alt="{html.escape(latex, quote=True)}" style="{style}"/>')
    if block:
        img = f'<div class="math-block">{img}</div>'
    self.body.append(img)
    raise nodes.SkipNode


def visit_math(self, node):
    _img(self, node, node.astext(), block=False)


def visit_displaymath(self, node):
    _img(self, node, node.astext(), block=True)


def setup(app):
    app.add_html_math_renderer("mathtext_svg", (visit_math, None), (visit_displaymath, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
