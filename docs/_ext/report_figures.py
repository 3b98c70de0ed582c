"""The reproduction report's images as captioned figures.

``docs/reproduction.md`` (Markdown, readable as is) writes each plot as an image
alone in its paragraph, ``![alt](path)``. Parsed by myst-parser that is a bare
image; this transform makes it a figure at the width of the text column, captioned
with its section's title and what the plot compares.
"""

from docutils import nodes
from sphinx.transforms import SphinxTransform


class ImageParagraphToFigure(SphinxTransform):
    default_priority = 200

    def apply(self):
        if self.env.docname != "reproduction":
            return
        for para in list(self.document.findall(nodes.paragraph)):
            children = [c for c in para.children if not (isinstance(c, nodes.Text)
                                                         and not c.strip())]
            if len(children) != 1 or not isinstance(children[0], nodes.image):
                continue
            image = children[0]
            alt = image.get("alt", "").strip()
            if not alt:
                continue
            image = image.deepcopy()
            image["width"] = "100%"
            figure = nodes.figure("", image, nodes.caption("", _caption(para, alt)))
            figure["align"] = "center"
            para.replace_self(figure)


#: What each kind of plot of the report compares, by the start of its alt text.
COMPARES = {
    "Figure": (
        "Diagnosis accuracy on F' (%) of each method against k, the size of the training "
        "set: lines are ours (mean over the five seeds, band: one standard deviation), "
        "hollow circles the paper's values in the colour of the method."
    ),
    "One-step": (
        "Mean test-accuracy gain on F' (points) after one configuration change chosen "
        "by each diagnosis method, for the fixed, random and optimal step rules: bars "
        "are ours, black marks the paper's values."
    ),
}


def _caption(para, alt):
    """``<section title>. <what the plot compares>``, or the alt text alone."""
    section = para.parent
    while section is not None and not isinstance(section, nodes.section):
        section = section.parent
    title = section[0].astext() if section is not None else alt
    if not title.startswith(alt.split(":")[0]):
        title = f"{alt}: {title}"
    for start, text in COMPARES.items():
        if alt.startswith(start):
            return f"{title}. {text}"
    return alt if alt == title else f"{title}. {alt}"


def setup(app):
    app.add_transform(ImageParagraphToFigure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
