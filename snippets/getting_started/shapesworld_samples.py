"""Generator: the first scenes of ShapesWorld, the book's synthetic data.

The page embeds the `scene` and `figure` sections.
"""

# --8<-- [start:scene]
from vlmbook.shapesworld import ShapesWorld

world = ShapesWorld(split="train", image_size=64, seed=0)
scene = world[0]  # a pure function of (seed, split, index): the same scene on every run
# --8<-- [end:scene]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure

TITLES = {"ko": "장면 {index}", "en": "scene {index}"}


@figure("shapesworld-samples")
def draw_samples(lang: str):
    images = world.images(range(8))  # (8, H, W, 3) uint8
    fig, axes = plt.subplots(2, 4, figsize=(6.4, 3.6))
    for index, ax in enumerate(axes.flat):
        ax.imshow(images[index], interpolation="nearest")
        ax.set_title(TITLES[lang].format(index=index), fontsize=9)
        ax.set_axis_off()
    return fig
# --8<-- [end:figure]
