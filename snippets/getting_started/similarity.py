"""Generator: a toy image-text similarity matrix, the object that contrastive learning trains.

The page embeds the `compute` and `figure` sections, so the code a reader sees
is the code that drew the figure.
"""

# --8<-- [start:compute]
import numpy as np

rng = np.random.default_rng(seed=0)
num_pairs, embed_dim = 4, 8  # N image-caption pairs, D embedding features

# A well-trained model puts each caption close to its own image:
# here a caption embedding is its image embedding plus a little noise.
image_embeds = rng.normal(size=(num_pairs, embed_dim))  # (N, D)
text_embeds = image_embeds + 0.5 * rng.normal(size=(num_pairs, embed_dim))  # (N, D)

# Cosine similarity: normalize each embedding, then take one matrix product.
image_embeds /= np.linalg.norm(image_embeds, axis=1, keepdims=True)
text_embeds /= np.linalg.norm(text_embeds, axis=1, keepdims=True)
similarity = image_embeds @ text_embeds.T  # (N, N): row i = image i against every caption
# --8<-- [end:compute]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {"image": "이미지", "caption": "캡션", "title": "이미지-텍스트 코사인 유사도"},
    "en": {"image": "image", "caption": "caption", "title": "Image-text cosine similarity"},
}


@figure("toy-similarity")
def draw_similarity(lang: str):
    labels = LABELS[lang]
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    cells = ax.imshow(similarity, cmap="viridis", vmin=-1, vmax=1)
    ticks = range(num_pairs)
    ax.set_xticks(ticks, [f"{labels['caption']} {i + 1}" for i in ticks], rotation=30)
    ax.set_yticks(ticks, [f"{labels['image']} {i + 1}" for i in ticks])
    for row in ticks:
        for col in ticks:
            ax.text(col, row, f"{similarity[row, col]:.2f}", ha="center", va="center",
                    color="black" if similarity[row, col] > 0.3 else "white", fontsize=8)
    ax.set_title(labels["title"])
    fig.colorbar(cells, ax=ax, shrink=0.8)
    return fig
# --8<-- [end:figure]


@markdown("toy-matched-similarity")
def matched_similarity(lang: str) -> str:
    return f"{np.diag(similarity).mean():.2f}"
