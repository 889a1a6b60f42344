"""Generator: how an image becomes tokens, and a figure of what the model sees.

The patch size comes from the config of the CLIP checkpoint that
`vlmbook.checkpoint("clip")` names: the embedded tiny CLIP by default, or
openai/clip-vit-base-patch32 with VLMBOOK_CHECKPOINTS=hub.

Shape legend: H = W = image size in pixels, P patch side in pixels,
N_patch = (H / P) * (W / P) patches, each flattened to P * P * 3 numbers.
"""

# --8<-- [start:config]
from transformers import AutoConfig

import vlmbook

config = AutoConfig.from_pretrained(vlmbook.checkpoint("clip"))
image_size = config.vision_config.image_size  # H = W, pixels
patch_size = config.vision_config.patch_size  # P, pixels
grid_size = image_size // patch_size  # patches per row and per column
num_patches = grid_size * grid_size  # N_patch = HW / P^2
# --8<-- [end:config]

# --8<-- [start:patchify]
import numpy as np

from vlmbook import ShapesWorld

scene = ShapesWorld(split="train", image_size=image_size, seed=0)[0]
pixels = np.asarray(scene.image)  # (H, W, 3), uint8

# Cut rows and columns into runs of P pixels, then list the blocks row by row.
P, rows, cols = patch_size, grid_size, grid_size
blocks = pixels.reshape(rows, P, cols, P, 3)  # (H/P, P, W/P, P, 3)
blocks = blocks.transpose(0, 2, 1, 3, 4)  # (H/P, W/P, P, P, 3)
patches = blocks.reshape(num_patches, P * P * 3)  # (N_patch, P*P*3)
# --8<-- [end:patchify]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {
        "image": "장면과 패치 격자",
        "sequence": "모델의 입력: 패치를 한 줄로 늘어놓은 토큰 시퀀스",
        "title": "모델이 보는 것: {size}×{size} 이미지, "
        "{patch}×{patch} 패치, 이미지 토큰 {count}개",
    },
    "en": {
        "image": "Scene and its patch grid",
        "sequence": "What the model reads: the patches as a token sequence",
        "title": "What the model sees: a {size}×{size} image, "
        "{patch}×{patch} patches, {count} image tokens",
    },
}
# Layout of the right panel: two image rows per line of tiles, white gaps in
# pixels between tiles, and room above each line for the token indices.
SEQUENCE_COLUMNS = 2 * grid_size
GAP = 2
ROW_GAP = max(GAP, round(0.6 * patch_size))


def tile_patches(patches: np.ndarray) -> np.ndarray:
    """Lay the patches out in reading order, with white gaps between them."""
    num_rows = -(-len(patches) // SEQUENCE_COLUMNS)  # ceiling division
    # Each row of tiles has ROW_GAP white pixels above it for the indices.
    step, row_step = patch_size + GAP, patch_size + ROW_GAP
    canvas_shape = (num_rows * row_step, SEQUENCE_COLUMNS * step, 3)
    canvas = np.full(canvas_shape, 255, dtype=np.uint8)  # white
    for index, patch in enumerate(patches):
        row, column = divmod(index, SEQUENCE_COLUMNS)
        top, left = row * row_step + ROW_GAP, column * step
        tile = patch.reshape(patch_size, patch_size, 3)
        canvas[top:top + patch_size, left:left + patch_size] = tile
    return canvas


@figure("image-patches")
def draw_patches(lang: str):
    labels = LABELS[lang]
    fig, (image_ax, sequence_ax) = plt.subplots(
        1, 2, figsize=(8.6, 3.6), gridspec_kw={"width_ratios": [1, 1.9]}
    )

    # Left: the scene, a line at every patch border, each patch's token index.
    image_ax.imshow(pixels, interpolation="nearest")
    for border in range(0, image_size + 1, patch_size):
        image_ax.axhline(border - 0.5, color="white", linewidth=1)
        image_ax.axvline(border - 0.5, color="white", linewidth=1)
    if grid_size <= 8:
        for index in range(num_patches):
            row, column = divmod(index, grid_size)
            x, y = column * patch_size + 0.5, row * patch_size + 0.5
            image_ax.text(x, y, str(index), fontsize=6, color="#444444",
                          ha="left", va="top")
    image_ax.set_title(labels["image"], fontsize=10)
    image_ax.set_axis_off()

    # Right: the same patches in the order the transformer reads them.
    sequence_ax.imshow(tile_patches(patches), interpolation="nearest")
    step, row_step = patch_size + GAP, patch_size + ROW_GAP
    for index in range(num_patches):
        row, column = divmod(index, SEQUENCE_COLUMNS)
        x = column * step + patch_size / 2 - 0.5
        y = row * row_step + ROW_GAP - 1
        sequence_ax.text(x, y, str(index), fontsize=6,
                         ha="center", va="bottom")
    sequence_ax.set_title(labels["sequence"], fontsize=10)
    sequence_ax.set_axis_off()

    title = labels["title"].format(
        size=image_size, patch=patch_size, count=num_patches
    )
    fig.suptitle(title)
    return fig
# --8<-- [end:figure]


@markdown("clip-image-size")
def image_size_text(lang: str) -> str:
    return str(image_size)


@markdown("clip-patch-size")
def patch_size_text(lang: str) -> str:
    return str(patch_size)


@markdown("clip-image-tokens")
def image_tokens_text(lang: str) -> str:
    return str(num_patches)
