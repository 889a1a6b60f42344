"""Generator: CLS attention maps of the embedded CLIP's vision tower, per layer and head, and rollout.

The page embeds the `load`, `cls_maps`, `rollout` and `figures` sections as one script.
"""

# --8<-- [start:load]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import attention_rollout, cls_attention_maps, vision_attentions

folder = vlmbook.checkpoint("clip")
# Eager attention computes the weights; transformers' default SDPA kernel returns none.
model = CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
processor = CLIPProcessor.from_pretrained(folder)
vision = model.config.vision_config
grid = (vision.image_size // vision.patch_size,) * 2  # (gh, gw) = (8, 8)

scene = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)[3]
pixel_values = processor(images=scene.image, return_tensors="pt").pixel_values  # (1, 3, 64, 64)
attentions = vision_attentions(model, pixel_values)  # L tensors (B, H, N, N), N = 1 + 64
print(scene.captions[0])
print(len(attentions), "layers of", tuple(attentions[0].shape))
# --8<-- [end:load]

# --8<-- [start:cls_maps]
maps = cls_attention_maps(attentions, grid)  # (B, L, H, gh, gw): row 0 of each layer, CLS dropped
print("CLS maps", tuple(maps.shape), "(B, L, H, gh, gw)")
# --8<-- [end:cls_maps]

# --8<-- [start:rollout]
rollout = attention_rollout(attentions, grid)  # (B, gh, gw)
print("rollout", tuple(rollout.shape), "(B, gh, gw)")
# --8<-- [end:rollout]

# --8<-- [start:figures]
import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay, plot_attention_heads

TITLES = {
    "ko": {"image": "입력 이미지", "layer_mean": "층 {layer}, 헤드 평균", "rollout": "어텐션 롤아웃",
           "head": "층 {layer}, 헤드 {head}"},
    "en": {"image": "input image", "layer_mean": "layer {layer}, mean of heads", "rollout": "attention rollout",
           "head": "layer {layer}, head {head}"},
}


@figure("attention-cls-heads")
def draw_cls_heads(lang: str):
    fig = plot_attention_heads(scene.image, maps[0])  # one row per layer, one column per head
    num_heads = maps.shape[2]
    for index, ax in enumerate(fig.axes):  # row-major: layer, then head
        layer, head = divmod(index, num_heads)
        ax.set_title(TITLES[lang]["head"].format(layer=layer, head=head), fontsize=9)
    return fig


@figure("attention-rollout")
def draw_rollout(lang: str):
    titles = TITLES[lang]
    panels = [(maps[0, layer].mean(dim=0), titles["layer_mean"].format(layer=layer)) for layer in range(len(attentions))]
    panels.append((rollout[0], titles["rollout"]))
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(2.3 * (1 + len(panels)), 2.7))
    axes[0].imshow(scene.image)
    axes[0].set_title(titles["image"], fontsize=9)
    axes[0].set_axis_off()
    for ax, (heatmap, title) in zip(axes[1:], panels):
        overlay(scene.image, heatmap, ax=ax, alpha=0.6)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
# --8<-- [end:figures]
