"""Generator: four ways an attention map goes wrong, each drawn beside the right map.

The page embeds `load`, `prefix`, `transpose`, `sdpa`, `rollout` and `figure` as one script.
"""

# --8<-- [start:load]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import attention_rollout, cls_attention_maps, to_patch_grid, vision_attentions

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
processor = CLIPProcessor.from_pretrained(folder)
grid = (8, 8)  # 64 px image, 8 px patches

scene = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)[3]
pixel_values = processor(images=scene.image, return_tensors="pt").pixel_values
attentions = vision_attentions(model, pixel_values)  # L tensors (1, H, 65, 65)
cls_row = attentions[-1][0].mean(dim=0)[0]  # (65,): last layer, mean of heads, CLS query
right_map = cls_attention_maps(attentions, grid)[0, -1].mean(dim=0)  # (gh, gw)
# --8<-- [end:load]

# --8<-- [start:prefix]
# Wrong: keep the CLS token in the grid. 65 values do not fill 8 x 8, so dropping the
# last one "fixes" the shape and shifts every patch one step to the right.
shifted_map = cls_row[:64].reshape(grid)
try:
    to_patch_grid(cls_row, grid, num_prefix_tokens=0)
except ValueError as error:
    print("to_patch_grid:", error)
# --8<-- [end:prefix]

# --8<-- [start:transpose]
# Wrong: fill the grid column by column. The tokens are in row-major order (left to right, then down).
transposed_map = cls_row[1:].reshape(grid).T
print("row-major grid equals the viz map:", torch.equal(cls_row[1:].reshape(grid), right_map))
# --8<-- [end:transpose]

# --8<-- [start:sdpa]
# Wrong: ask a model that runs fused SDPA attention for its weights.
sdpa_model = CLIPModel.from_pretrained(folder, attn_implementation="sdpa").eval()
with torch.no_grad():
    sdpa_output = sdpa_model.vision_model(pixel_values=pixel_values, output_attentions=True)
print("attention tensors from SDPA:", len(sdpa_output.attentions or ()))
# --8<-- [end:sdpa]

# --8<-- [start:rollout]
# Wrong: add the identity for the residual path but skip the row normalization.
unnormalized = None
for layer in attentions:
    mixed = layer.mean(dim=1) + torch.eye(layer.shape[-1])  # (1, N, N), rows sum to 2
    unnormalized = mixed if unnormalized is None else mixed @ unnormalized
unnormalized_map = unnormalized[0, 0, 1:].reshape(grid)
right_rollout = attention_rollout(attentions, grid)[0]
# Every row of (mean + I) sums to 2, so skipping the normalization scales the result by 2^L.
ratio = (unnormalized_map.sum() / right_rollout.sum()).item()
print(f"unnormalized / normalized rollout: {ratio:.2f} = 2^{len(attentions)}")
# --8<-- [end:rollout]

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure
from vlmbook.viz import overlay

TEXT = {
    "ko": {"right": "바른 지도", "prefix": "CLS를 격자에 남김", "transpose": "격자를 전치함",
           "sdpa": "SDPA: 가중치 없음", "rollout": "행 정규화 없는 롤아웃\n0~1 척도, 합 {total:.2f}",
           "rollout_right": "롤아웃\n0~1 척도, 합 {total:.2f}"},
    "en": {"right": "right map", "prefix": "CLS left in the grid", "transpose": "transposed grid",
           "sdpa": "SDPA: no weights", "rollout": "unnormalized rollout\nscale 0-1, sum {total:.2f}",
           "rollout_right": "rollout\nscale 0-1, sum {total:.2f}"},
}


@figure("attention-pitfalls")
def draw_pitfalls(lang: str):
    text = TEXT[lang]
    fig, axes = plt.subplots(2, 4, figsize=(9.2, 5.4))
    pairs = [(right_map, text["right"], shifted_map, text["prefix"]),
             (right_map, text["right"], transposed_map, text["transpose"]),
             (right_map, text["right"], None, text["sdpa"])]
    for column, (good, good_title, bad, bad_title) in enumerate(pairs):
        overlay(scene.image, good, ax=axes[0, column], alpha=0.6, title=good_title)
        if bad is None:
            axes[1, column].imshow(scene.image)
            axes[1, column].set_axis_off()
            axes[1, column].text(32, 32, "?", fontsize=28, ha="center", va="center", color="#b71c1c")
            axes[1, column].set_title(bad_title, color="#b71c1c")
        else:
            overlay(scene.image, bad, ax=axes[1, column], alpha=0.6, title=bad_title)
            axes[1, column].title.set_color("#b71c1c")
    # Rollout: both maps on one absolute color scale, where the unnormalized one saturates.
    for row, (heatmap, title) in enumerate([(right_rollout, text["rollout_right"]), (unnormalized_map, text["rollout"])]):
        axes[row, 3].imshow(heatmap, cmap="inferno", vmin=0, vmax=1)
        axes[row, 3].set_axis_off()
        axes[row, 3].set_title(title.format(total=heatmap.sum().item()), color="#b71c1c" if row else "black")
    for ax in axes.flat:
        ax.title.set_fontsize(9)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]
