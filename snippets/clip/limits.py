"""Generator: where the tiny CLIP fails on ShapesWorld, measured: attribute binding, word order, counting.

Binding and word order follow the two-caption test of Winoground (Thrush et
al. 2022, arXiv 2204.03162) and ARO (Yuksekgonul et al. 2022, arXiv
2210.01936): the model sees one image and two captions with the same words,
and scores a point when the true caption is the more similar one. Chance is
50%. The page embeds the `example`, `pairs`, `counting` and `figure` sections.
"""

# --8<-- [start:example]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld, swap_attribute

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)


@torch.no_grad()
def caption_similarity(images: list, captions: list[str]) -> torch.Tensor:
    """Return the cosine similarity of image i with caption i, for each i (N,)."""
    inputs = processor(text=captions, images=images, return_tensors="pt", padding=True)
    outputs = model(**inputs)
    return (outputs.image_embeds * outputs.text_embeds).sum(dim=-1)  # both are unit length


# A red circle left of a blue square, and the caption with the colors swapped.
world = ShapesWorld("test", seed=0)
scene = world.place([("circle", "red", "large", "left"), ("square", "blue", "large", "right")])
true_caption = scene.captions[0]
swapped_caption = swap_attribute(true_caption, "color")
example_scores = caption_similarity([scene.image, scene.image], [true_caption, swapped_caption])
# --8<-- [end:example]

# --8<-- [start:pairs]
RELATIONS = (" left of ", " above ")


def reorder(caption: str) -> str | None:
    """Swap the two objects around the relation: "A left of B" -> "B left of A"."""
    for relation in RELATIONS:
        if relation in caption:
            first, second = caption.split(relation)
            return f"{second}{relation}{first}" if first != second else None
    return None


def two_caption_score(scenes: list, make_negative) -> tuple[float, int]:
    """Return the fraction of scenes whose true caption beats its negative, and the number of scenes compared."""
    images, positives, negatives = [], [], []
    for s in scenes:
        try:
            negative = make_negative(s.captions[0])
        except ValueError:  # nothing to swap, e.g. both objects share a color
            negative = None
        if negative is not None and negative != s.captions[0]:
            images.append(s.image)
            positives.append(s.captions[0])
            negatives.append(negative)
    wins = caption_similarity(images, positives) > caption_similarity(images, negatives)  # (N,)
    return wins.float().mean().item(), len(images)


# Test scenes with exactly two objects; their canonical caption is "A left of B" or "A above B".
two_object_world = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)
two_object_scenes = [two_object_world[i] for i in range(400)]
scores = {
    "color swap": two_caption_score(two_object_scenes, lambda c: swap_attribute(c, "color")),
    "shape swap": two_caption_score(two_object_scenes, lambda c: swap_attribute(c, "shape")),
    "word order": two_caption_score(two_object_scenes, reorder),
}
# --8<-- [end:pairs]

# --8<-- [start:counting]
# Counting as zero-shot classification over three prompts.
COUNT_PROMPTS = ["one object", "two objects", "three objects"]
counting_world = ShapesWorld("test", min_objects=1, max_objects=3, seed=0)
counting_scenes = [counting_world[i] for i in range(300)]
with torch.no_grad():
    inputs = processor(text=COUNT_PROMPTS, images=[s.image for s in counting_scenes], return_tensors="pt",
                       padding=True)
    predicted = model(**inputs).logits_per_image.argmax(dim=1)  # (N,): index 0 means one object
truth = torch.tensor([len(s.objects) - 1 for s in counting_scenes])  # (N,)
counting_accuracy = (predicted == truth).float().mean().item()
# --8<-- [end:counting]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

LABELS = {
    "ko": {
        "color swap": "색 바꾸기\n(속성 결합)", "shape swap": "모양 바꾸기\n(속성 결합)",
        "word order": "순서 바꾸기\n(어순)", "counting": "개수 세기\n(3지선다)",
        "accuracy": "정답 비율", "chance": "무작위 추측",
    },
    "en": {
        "color swap": "color swap\n(binding)", "shape swap": "shape swap\n(binding)",
        "word order": "object order\n(word order)", "counting": "counting\n(3 choices)",
        "accuracy": "fraction correct", "chance": "chance",
    },
}


@figure("clip-limits")
def draw_limits(lang: str):
    labels = LABELS[lang]
    names = [*scores, "counting"]
    values = [scores[name][0] for name in scores] + [counting_accuracy]
    chances = [0.5] * len(scores) + [1 / len(COUNT_PROMPTS)]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.bar(range(len(names)), values, color="#3949ab", width=0.6)
    for i, (value, chance) in enumerate(zip(values, chances)):
        ax.hlines(chance, i - 0.4, i + 0.4, color="gray", linestyle="--", label=labels["chance"] if i == 0 else None)
        ax.text(i, max(value, chance) + 0.03, f"{value:.0%}", ha="center", fontsize=9)
    ax.set_xticks(range(len(names)), [labels[name] for name in names], fontsize=9, linespacing=1.6)
    ax.set_ylabel(labels["accuracy"])
    ax.set_ylim(0, 1.1)
    ax.legend(loc="upper right", fontsize=8)
    return fig
# --8<-- [end:figure]


def percent(value: float) -> str:
    return f"{value:.1%}"


@markdown("clip-binding-color")
def binding_color(lang: str) -> str:
    return percent(scores["color swap"][0])


@markdown("clip-binding-shape")
def binding_shape(lang: str) -> str:
    return percent(scores["shape swap"][0])


@markdown("clip-word-order")
def word_order(lang: str) -> str:
    return percent(scores["word order"][0])


# Each test compares only the scenes that have something to swap, so the three counts differ.
@markdown("clip-binding-color-scenes")
def binding_color_scenes(lang: str) -> str:
    return f"{scores['color swap'][1]}"


@markdown("clip-binding-shape-scenes")
def binding_shape_scenes(lang: str) -> str:
    return f"{scores['shape swap'][1]}"


@markdown("clip-word-order-scenes")
def word_order_scenes(lang: str) -> str:
    return f"{scores['word order'][1]}"


@markdown("clip-counting")
def counting(lang: str) -> str:
    return percent(counting_accuracy)


@markdown("clip-example-true")
def example_true(lang: str) -> str:
    return f"{example_scores[0].item():.3f}"


@markdown("clip-example-swapped")
def example_swapped(lang: str) -> str:
    return f"{example_scores[1].item():.3f}"
