"""Generator: BLIP captions of ShapesWorld scenes with three decoding strategies.

The chapter embeds the `load`, `decode`, `repetition` and `cross_attention`
sections, so the code a reader sees is the code that made the tables and
figures. With VLMBOOK_CHECKPOINTS=hub the same code runs on
Salesforce/blip-image-captioning-base.
"""

# --8<-- [start:load]
import torch
from transformers import BlipForConditionalGeneration, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

# The embedded tiny captioner, or "Salesforce/blip-image-captioning-base" with VLMBOOK_CHECKPOINTS=hub.
folder = vlmbook.checkpoint("blip-captioning")
processor = BlipProcessor.from_pretrained(folder)
model = BlipForConditionalGeneration.from_pretrained(folder).eval()

world = ShapesWorld("test", image_size=64, max_objects=2, seed=0)
scenes = [world[i] for i in range(4)]
pixel_values = processor(images=[scene.image for scene in scenes], return_tensors="pt").pixel_values
# --8<-- [end:load]

# --8<-- [start:decode]
STRATEGIES = {
    "greedy": dict(do_sample=False, num_beams=1),  # the most likely word at each step
    "beam": dict(do_sample=False, num_beams=3),  # keep the 3 most likely partial captions
    # Sample from the most likely words that hold 90% of the probability. top_k=0 turns off
    # the top-50 cut that `generate` otherwise applies whenever it samples.
    "nucleus": dict(do_sample=True, top_p=0.9, top_k=0),
}


def caption(pixel_values: torch.Tensor, **settings) -> list[str]:
    """Caption each image (B, 3, H, W) with the given `generate` settings."""
    settings = {"max_new_tokens": 20, **settings}
    torch.manual_seed(0)  # nucleus sampling draws random numbers, so a fixed seed repeats a run
    with torch.no_grad():
        ids = model.generate(pixel_values=pixel_values, **settings)  # (B, T)
    return [text.strip() for text in processor.batch_decode(ids, skip_special_tokens=True)]


captions = {name: caption(pixel_values, **settings) for name, settings in STRATEGIES.items()}
for i, scene in enumerate(scenes):
    print(f"scene {i}  truth:   {scene.captions[0]}")
    for name in STRATEGIES:
        print(f"         {name + ':':<8} {captions[name][i]}")
# --8<-- [end:decode]

# --8<-- [start:repetition]
def repeated_bigram_rate(text: str) -> float:
    """Fraction of a caption's word pairs that already occurred earlier in it."""
    words = text.split()
    pairs = list(zip(words, words[1:]))
    return 1 - len(set(pairs)) / len(pairs) if pairs else 0.0


# min_new_tokens forbids [SEP] for 16 steps, so the decoder must keep writing.
forced = dict(min_new_tokens=16, max_new_tokens=16)
CONTROLS = {
    "forced": dict(forced),
    "repetition_penalty=2.0": dict(forced, repetition_penalty=2.0),
    "no_repeat_ngram_size=2": dict(forced, no_repeat_ngram_size=2),
}
long_captions = {name: caption(pixel_values[:1], **settings)[0] for name, settings in CONTROLS.items()}
for name, text in long_captions.items():
    print(f"{name:<23} repeated pairs {repeated_bigram_rate(text):.0%}: {text}")
# --8<-- [end:repetition]

# --8<-- [start:cross_attention]
from vlmbook.viz import caption_cross_attention, overlay


def word_maps(scene_index: int) -> tuple[list[str], torch.Tensor]:
    """Greedy caption words of one scene, and for each word the cross-attention that wrote it (W, gh, gw)."""
    with torch.no_grad():
        ids = model.generate(pixel_values=pixel_values[scene_index : scene_index + 1], max_new_tokens=20)  # (1, T)
    maps = caption_cross_attention(model, pixel_values[scene_index : scene_index + 1], ids)[0]  # (T, gh, gw)

    # The decoder reads position t when it writes token t + 1, so each word gets the map of the position before it.
    tokens = processor.tokenizer.convert_ids_to_tokens(ids[0])
    special = set(processor.tokenizer.all_special_tokens)
    words = [(token, maps[t - 1]) for t, token in enumerate(tokens) if t > 0 and token not in special]
    return [word for word, _ in words], torch.stack([word_map for _, word_map in words])
# --8<-- [end:cross_attention]

# --8<-- [start:figures]
import textwrap

import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown
from vlmbook.evaluation import caption_attribute_accuracy

LABELS = {
    "ko": {"image": "이미지", "truth": "정답", "model": "모델", "strategy": "디코딩", "scene": "장면",
           "setting": "설정", "rate": "반복된 단어 쌍", "caption": "캡션"},
    "en": {"image": "image", "truth": "truth", "model": "model", "strategy": "decoding", "scene": "scene",
           "setting": "setting", "rate": "repeated word pairs", "caption": "caption"},
}
GRID_SCENES = [world[i] for i in range(8)]
MAP_SCENES = (1, 0)  # test scene 1 has one object, scene 0 has two


@figure("blip-cross-attention")
def draw_cross_attention(lang: str):
    rows = [word_maps(i) for i in MAP_SCENES]
    columns = 1 + max(len(words) for words, _ in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.5 * columns, 1.75 * len(rows)), squeeze=False)
    for row, (scene_index, (words, maps)) in enumerate(zip(MAP_SCENES, rows)):
        image = scenes[scene_index].image
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(LABELS[lang]["image"], fontsize=9)
        axes[row, 0].set_axis_off()
        for column in range(1, columns):
            ax = axes[row, column]
            ax.set_axis_off()
            if column <= len(words):
                overlay(image, maps[column - 1], ax=ax, alpha=0.6)
                ax.set_title(f"“{words[column - 1]}”", fontsize=9)
    fig.tight_layout()
    return fig


@figure("blip-caption-grid")
def draw_caption_grid(lang: str):
    images = processor(images=[scene.image for scene in GRID_SCENES], return_tensors="pt").pixel_values
    generated = caption(images, **STRATEGIES["greedy"])
    labels = LABELS[lang]
    fig, axes = plt.subplots(2, 4, figsize=(10.0, 7.0))
    for ax, scene, text in zip(axes.flat, GRID_SCENES, generated):
        right = caption_attribute_accuracy([text], [scene.captions[0]])["all"] == 1.0
        ax.imshow(scene.image)
        ax.set_axis_off()
        truth = textwrap.fill(f"{labels['truth']}: {scene.captions[0]}", 26)
        model_line = textwrap.fill(f"{labels['model']}: {text}", 26)
        ax.set_title(f"{truth}\n{model_line}", fontsize=8.5, color="black" if right else "#b00020", loc="left")
    fig.tight_layout()
    return fig


@markdown("blip-decoding-table")
def decoding_table(lang: str) -> str:
    labels = LABELS[lang]
    header = f"| {labels['scene']} | {labels['truth']} | greedy | beam (3) | nucleus (p = 0.9) |"
    lines = [header, "| --- | --- | --- | --- | --- |"]
    for i, scene in enumerate(scenes):
        cells = [captions[name][i] for name in STRATEGIES]
        lines.append(f"| {i} | {scene.captions[0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@markdown("blip-repetition-table")
def repetition_table(lang: str) -> str:
    labels = LABELS[lang]
    lines = [f"| {labels['setting']} | {labels['rate']} | {labels['caption']} |", "| --- | --- | --- |"]
    for name, text in long_captions.items():
        lines.append(f"| `{name}` | {repeated_bigram_rate(text):.0%} | {text} |")
    return "\n".join(lines)
# --8<-- [end:figures]


# Accuracy of each strategy on 100 test scenes: the share of color, shape and
# relation words that match the canonical caption, in order.
ACCURACY_SCENES = [world[i] for i in range(100)]
_accuracy_pixels = processor(images=[scene.image for scene in ACCURACY_SCENES], return_tensors="pt").pixel_values
_references = [scene.captions[0] for scene in ACCURACY_SCENES]
STRATEGY_ACCURACY = {
    name: caption_attribute_accuracy(caption(_accuracy_pixels, **settings), _references)["all"]
    for name, settings in STRATEGIES.items()
}


@markdown("blip-strategy-accuracy")
def strategy_accuracy(lang: str) -> str:
    header = "| greedy | beam (3) | nucleus (p = 0.9) |" if lang == "en" else "| 탐욕 (greedy) | 빔 (3) | 뉴클리어스 (p = 0.9) |"
    values = " | ".join(f"{STRATEGY_ACCURACY[name]:.1%}" for name in STRATEGIES)
    return f"{header}\n| --- | --- | --- |\n| {values} |"
