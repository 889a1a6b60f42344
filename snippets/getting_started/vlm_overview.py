"""Generator: the two-tower picture of a vision-language model on the home page."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from vlmbook.book import figure

# Box text per language; the keys name the boxes.
BOXES = {
    "ko": {
        "image": "이미지",
        "vision": "비전 인코더",
        "text": "텍스트",
        "language": "텍스트 인코더",
        "space": "공통\n임베딩 공간",
        "title": "비전-언어 모델의 두 탑 구조",
    },
    "en": {
        "image": "Image",
        "vision": "Vision encoder",
        "text": "Text",
        "language": "Text encoder",
        "space": "Shared\nembedding space",
        "title": "The two towers of a vision-language model",
    },
}

# Box centers in axes coordinates (x, y), left to right.
POSITIONS = {
    "image": (0.12, 0.72),
    "vision": (0.45, 0.72),
    "text": (0.12, 0.28),
    "language": (0.45, 0.28),
    "space": (0.82, 0.5),
}
ARROWS = [("image", "vision"), ("vision", "space"), ("text", "language"), ("language", "space")]


@figure("vlm-overview")
def draw_overview(lang: str):
    labels = BOXES[lang]
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    ax.set_axis_off()
    ax.set_xlim(-0.04, 0.98)  # room for the rounded corners of the outer boxes
    ax.set_ylim(0.1, 0.9)

    # One rounded box per component.
    for key, (x, y) in POSITIONS.items():
        color = "#c5cae9" if key in ("vision", "language") else "#e8eaf6"
        ax.add_patch(FancyBboxPatch((x - 0.12, y - 0.1), 0.24, 0.2, boxstyle="round,pad=0.02",
                                    facecolor=color, edgecolor="#3949ab"))
        ax.text(x, y, labels[key], ha="center", va="center", fontsize=10)

    # Arrows from each box's right edge to the next box's left edge.
    for source, target in ARROWS:
        (x0, y0), (x1, y1) = POSITIONS[source], POSITIONS[target]
        ax.annotate("", xy=(x1 - 0.14, y1), xytext=(x0 + 0.14, y0),
                    arrowprops={"arrowstyle": "->", "color": "#3949ab"})
    ax.set_title(labels["title"])
    return fig
