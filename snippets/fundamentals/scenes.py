"""Generator: a grid of ShapesWorld scenes, each with a caption and a question.

The page embeds the `figure` section, so the code a reader sees is the code
that drew the figure.
"""

# --8<-- [start:figure]
import textwrap

import matplotlib.pyplot as plt

from vlmbook import ShapesWorld
from vlmbook.book import figure

LABELS = {
    "ko": {
        "title": "ShapesWorld 학습 분할의 장면 0-7: 캡션과 질문-답",
        "scene": "장면",
    },
    "en": {
        "title": "ShapesWorld train scenes 0-7: caption and question-answer",
        "scene": "scene",
    },
}
NUM_ROWS, NUM_COLUMNS = 2, 4


@figure("shapesworld-scenes")
def draw_scenes(lang: str):
    labels = LABELS[lang]
    world = ShapesWorld(split="train", image_size=64, seed=0)
    fig, axes = plt.subplots(NUM_ROWS, NUM_COLUMNS, figsize=(8.4, 7.0))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.12,
                        wspace=0.12, hspace=0.62)

    # One scene per panel: the image, its canonical caption and one question.
    for index, ax in enumerate(axes.flat):
        scene = world[index]
        # Cycle through the question kinds from panel to panel.
        qa = scene.questions[index % len(scene.questions)]
        ax.imshow(scene.image, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{labels['scene']} {index}", fontsize=9)
        caption = textwrap.fill(scene.captions[0], width=27)
        question = textwrap.fill(f"Q: {qa.question}  A: {qa.answer}", width=27)
        ax.text(0, -0.04, f"{caption}\n\n{question}", transform=ax.transAxes,
                fontsize=8, va="top")

    fig.suptitle(labels["title"])
    return fig
# --8<-- [end:figure]
