"""Worked solutions to the exercises of the attention visualization chapter.

Each section runs on its own.
"""

# --8<-- [start:rollout_by_hand]
import torch

from vlmbook.viz import attention_rollout

# Two layers, one head, one CLS token and four patches (a 2 x 2 grid) of random attention.
torch.manual_seed(0)
attentions = [torch.randn(1, 1, 5, 5).softmax(dim=-1) for _ in range(2)]  # (B, H, N, N) each

# Abnar and Zuidema: A_hat = 0.5 * A + 0.5 * I per layer, then multiply from the bottom layer up.
first, second = (0.5 * a[0, 0] + 0.5 * torch.eye(5) for a in attentions)
by_hand = (second @ first)[0, 1:].reshape(2, 2)  # CLS row, patches only
print("same as vlmbook.viz:", torch.allclose(by_hand, attention_rollout(attentions, (2, 2))[0]))
# --8<-- [end:rollout_by_hand]

# --8<-- [start:grid_order]
import torch

from vlmbook.viz import to_patch_grid

# A one-hot row: token 1 + 11 is patch 11, which is row 2, column 3 of a 4 x 4 grid.
values = torch.zeros(1 + 16)
values[1 + 11] = 1.0
grid = to_patch_grid(values, (4, 4))
row, column = divmod(int(grid.argmax()), 4)
print("peak at row", row, "column", column)
# --8<-- [end:grid_order]

# --8<-- [start:head_entropy]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld
from vlmbook.viz import vision_attentions

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
processor = CLIPProcessor.from_pretrained(folder)
scenes = [ShapesWorld("test", min_objects=1, max_objects=1, seed=0)[i] for i in range(50)]
pixel_values = processor(images=[s.image for s in scenes], return_tensors="pt").pixel_values
attentions = vision_attentions(model, pixel_values)  # L tensors (B, H, N, N)

# Entropy of the CLS row in bits: 0 = all weight on one token, log2(65) = 6.02 = uniform.
for layer, weights in enumerate(attentions):
    cls_rows = weights[:, :, 0, :]  # (B, H, N)
    entropy = -(cls_rows * cls_rows.clamp_min(1e-12).log2()).sum(dim=-1).mean(dim=0)  # (H,)
    print(f"layer {layer}: " + ", ".join(f"head {h} {bits:.2f} bits" for h, bits in enumerate(entropy.tolist())))
# --8<-- [end:head_entropy]
