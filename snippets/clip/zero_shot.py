"""Generator: zero-shot classification with the embedded tiny CLIP, through the transformers API.

Zero-shot classification is retrieval: embed one prompt per class, embed the
image, and pick the class whose prompt is most similar. The page embeds the
`load`, `similarity`, `classify`, `templates`, `heldout` and figure sections.
"""

# --8<-- [start:load]
import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import COLORS, HELDOUT_PAIRS, SHAPES, ShapesWorld

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)


@torch.no_grad()
def embed_texts(texts: list[str]) -> torch.Tensor:
    """Embed captions or prompts as unit-length vectors (N_text, D)."""
    inputs = processor(text=texts, return_tensors="pt", padding=True)
    return F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)


@torch.no_grad()
def embed_images(images: list) -> torch.Tensor:
    """Embed images as unit-length vectors (N_img, D)."""
    inputs = processor(images=images, return_tensors="pt")
    return F.normalize(model.get_image_features(**inputs).pooler_output, dim=-1)
# --8<-- [end:load]

# --8<-- [start:similarity]
# Six test scenes with one or two objects, and their canonical captions.
pairs_world = ShapesWorld("test", min_objects=1, max_objects=2, seed=0)
pair_scenes = [pairs_world[i] for i in range(6)]
pair_captions = [scene.captions[0] for scene in pair_scenes]

image_embeds = embed_images([scene.image for scene in pair_scenes])  # (6, D)
text_embeds = embed_texts(pair_captions)  # (6, D)
similarity = image_embeds @ text_embeds.T  # (6 images, 6 captions): cosine similarity
# --8<-- [end:similarity]

# --8<-- [start:classify]
from vlmbook.shapesworld_text import article

# One class per color-shape pair, and one prompt per class and size, worded like
# the training captions: "a small red circle", "a large red circle", ...
classes = [(color, shape) for color in COLORS for shape in SHAPES]  # 18 classes
prompts = [f"a {size} {color} {shape}" for color, shape in classes for size in ("small", "large")]  # 36
prompt_embeds = embed_texts(prompts)  # (36, D): the zero-shot classifier's weights

single_world = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
scenes = [single_world[i] for i in range(3)]
scale = model.logit_scale.exp().item()  # 1 / temperature, learned
logits = scale * embed_images([scene.image for scene in scenes]) @ prompt_embeds.T  # (3, 36)
probs = logits.softmax(dim=-1)  # (3, 36): one distribution over the prompts per image
predicted = [classes[i // 2] for i in probs.argmax(dim=-1).tolist()]  # prompts 2k and 2k + 1 are class k
# --8<-- [end:classify]

# --8<-- [start:templates]
SIZED = ["a small {color} {shape}", "a large {color} {shape}"]
TEMPLATES = {  # name -> (templates, how the scores of one class's prompts combine)
    "{color} {shape}": (["{color} {shape}"], "mean"),
    "a {color} {shape}": (["{article} {color} {shape}"], "mean"),
    "a small {color} {shape}": (["a small {color} {shape}"], "mean"),
    "a large {color} {shape}": (["a large {color} {shape}"], "mean"),
    "small + large, mean embedding": (SIZED, "mean"),
    "small + large, best prompt": (SIZED, "max"),
}


def embed_prompts(templates: list[str]) -> torch.Tensor:
    """Embed every template for every class (18, N_template, D)."""
    texts = [t.format(article=article(color), color=color, shape=shape) for color, shape in classes for t in templates]
    return embed_texts(texts).view(len(classes), len(templates), -1)


def class_scores(image_embeds: torch.Tensor, prompt_embeds: torch.Tensor, combine: str) -> torch.Tensor:
    """Score every image against every class (N, 18), from the prompt embeddings (18, N_template, D).

    "mean" averages a class's prompt embeddings into one classifier weight, as
    CLIP's prompt ensembling does; "max" keeps the class's best prompt.
    """
    if combine == "mean":
        weights = F.normalize(prompt_embeds.mean(dim=1), dim=-1)  # (18, D)
        return image_embeds @ weights.T  # (N, 18)
    per_prompt = torch.einsum("nd,ctd->nct", image_embeds, prompt_embeds)  # (N, 18, N_template)
    return per_prompt.amax(dim=2)  # (N, 18)


def labels_of(scenes: list) -> torch.Tensor:
    """Return the class index of the single object in each scene (N,)."""
    return torch.tensor([classes.index(scene.objects[0].pair) for scene in scenes])


def top1_accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Return the fraction of images whose best-scoring class is their true color-shape pair."""
    return (scores.argmax(dim=1) == labels).float().mean().item()


test_scenes = [single_world[i] for i in range(500)]
test_embeds, test_labels = embed_images([s.image for s in test_scenes]), labels_of(test_scenes)  # (500, D), (500,)
template_accuracy = {
    name: top1_accuracy(class_scores(test_embeds, embed_prompts(templates), combine), test_labels)
    for name, (templates, combine) in TEMPLATES.items()
}
# --8<-- [end:templates]

# --8<-- [start:heldout]
# Held-out pairs never appear in training; every test_heldout scene shows one.
heldout_world = ShapesWorld("test_heldout", min_objects=1, max_objects=1, seed=0)
heldout_scenes = [heldout_world[i] for i in range(500)]
heldout_embeds, heldout_labels = embed_images([s.image for s in heldout_scenes]), labels_of(heldout_scenes)
sized_prompts = embed_prompts(SIZED)  # (18, 2, D)
seen_accuracy = top1_accuracy(class_scores(test_embeds, sized_prompts, "max"), test_labels)
heldout_accuracy = top1_accuracy(class_scores(heldout_embeds, sized_prompts, "max"), heldout_labels)

# Accuracy of each color-shape pair, over both splits.
all_embeds, all_labels = torch.cat([test_embeds, heldout_embeds]), torch.cat([test_labels, heldout_labels])
all_scores = class_scores(all_embeds, sized_prompts, "max")  # (1000, 18)
per_pair = {
    pair: top1_accuracy(all_scores[all_labels == index], all_labels[all_labels == index])
    for index, pair in enumerate(classes)
}
# --8<-- [end:heldout]

# --8<-- [start:figures]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {
        "image": "이미지", "caption": "캡션", "similarity": "코사인 유사도", "probability": "확률",
        "seen": "학습에서 본 조합", "heldout": "처음 보는 조합", "accuracy": "제로샷 정확도", "chance": "무작위 추측",
    },
    "en": {
        "image": "image", "caption": "caption", "similarity": "cosine similarity", "probability": "probability",
        "seen": "seen in training", "heldout": "held out", "accuracy": "zero-shot accuracy", "chance": "chance",
    },
}


@figure("clip-similarity-matrix")
def draw_similarity_matrix(lang: str):
    labels = LABELS[lang]
    count = len(pair_scenes)
    fig = plt.figure(figsize=(7.4, 5.6))
    grid = fig.add_gridspec(2, count + 1, height_ratios=[1, count], width_ratios=[1] * count + [0.08],
                            hspace=0.05, wspace=0.08)
    # Top row: each image above its column of the matrix.
    for i, scene in enumerate(pair_scenes):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(scene.image)
        ax.set_axis_off()
        ax.set_title(f"{labels['image']} {i + 1}", fontsize=9)
    matrix_ax = fig.add_subplot(grid[1, :count])
    cells = matrix_ax.imshow(similarity.T.numpy(), cmap="viridis", vmin=-1, vmax=1, aspect="auto")
    matrix_ax.set_xticks(range(count), [f"{labels['image']} {i + 1}" for i in range(count)])
    matrix_ax.set_yticks(range(count), pair_captions, fontsize=9)
    for image_index in range(count):
        for caption_index in range(count):
            value = similarity[image_index, caption_index].item()
            matrix_ax.text(image_index, caption_index, f"{value:.2f}", ha="center", va="center", fontsize=8,
                           color="black" if value > 0.3 else "white")
    fig.colorbar(cells, cax=fig.add_subplot(grid[1, count]), label=labels["similarity"])
    return fig


@figure("clip-zero-shot-bars")
def draw_zero_shot_bars(lang: str):
    labels = LABELS[lang]
    fig, axes = plt.subplots(len(scenes), 2, figsize=(7.6, 2.0 * len(scenes)), width_ratios=[1, 3])
    for (image_ax, bar_ax), scene, row in zip(axes, scenes, probs):
        image_ax.imshow(scene.image)
        image_ax.set_axis_off()
        top = row.topk(5)
        bar_ax.barh(range(5), top.values.numpy()[::-1], color="#3949ab")
        bar_ax.set_yticks(range(5), [prompts[i] for i in top.indices.tolist()][::-1], fontsize=9)
        bar_ax.set_xlim(0, 1)
        bar_ax.set_title(scene.captions[0], fontsize=9)
    axes[-1][1].set_xlabel(labels["probability"])
    fig.tight_layout()
    return fig


@figure("clip-seen-heldout")
def draw_seen_heldout(lang: str):
    labels = LABELS[lang]
    fig, ax = plt.subplots(figsize=(8.6, 3.2))
    names = [f"{color} {shape}" for color, shape in classes]
    colors = ["#e53935" if pair in HELDOUT_PAIRS else "#3949ab" for pair in classes]
    ax.bar(range(len(classes)), [per_pair[pair] for pair in classes], color=colors)
    ax.axhline(1 / len(classes), color="gray", linestyle="--")
    ax.set_xticks(range(len(classes)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(labels["accuracy"])
    ax.set_ylim(0, 1.05)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#3949ab", "#e53935")]
    handles.append(plt.Line2D([0], [0], color="gray", linestyle="--"))
    ax.legend(handles, [labels["seen"], labels["heldout"], labels["chance"]], loc="upper right", fontsize=8,
              bbox_to_anchor=(1.0, 1.16), ncol=3)
    return fig
# --8<-- [end:figures]


@markdown("clip-template-table")
def template_table(lang: str) -> str:
    header = "| 프롬프트 템플릿 | 제로샷 정확도 (test) |" if lang == "ko" else "| prompt template | zero-shot accuracy (test) |"
    rows = [f"| `{name}` | {accuracy:.1%} |" for name, accuracy in template_accuracy.items()]
    return "\n".join([header, "| --- | --- |", *rows])


@markdown("clip-seen-accuracy")
def seen_accuracy_text(lang: str) -> str:
    return f"{seen_accuracy:.1%}"


@markdown("clip-heldout-accuracy")
def heldout_accuracy_text(lang: str) -> str:
    return f"{heldout_accuracy:.1%}"


@markdown("clip-learned-scale")
def learned_scale_text(lang: str) -> str:
    return f"{model.logit_scale.exp().item():.1f}"


@markdown("clip-matched-similarity")
def matched_similarity_text(lang: str) -> str:
    return f"{similarity.diagonal().mean().item():.2f}"


@markdown("clip-unmatched-similarity")
def unmatched_similarity_text(lang: str) -> str:
    off_diagonal = similarity[~torch.eye(len(pair_scenes), dtype=torch.bool)]
    return f"{off_diagonal.mean().item():.2f}"
