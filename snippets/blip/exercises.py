"""Worked solutions of the BLIP chapter's exercises. Each section runs in the test suite."""

# --8<-- [start:temperature]
# Exercise 1: the same aligned features under three temperatures (needs itc_loss from the chapter).
generator = torch.Generator().manual_seed(0)
image_feat = torch.randn(4, 8, generator=generator)  # (B, D_itc)
text_feat = image_feat + 0.3 * torch.randn(4, 8, generator=generator)  # (B, D_itc)
for temperature in (1.0, 0.1, 0.01):
    print(f"temperature {temperature:<5} loss {itc_loss(image_feat, text_feat, temperature):.3f}")
# --8<-- [end:temperature]

# --8<-- [start:capfilt]
# Exercise 2: the ITM head as CapFilt's filter, on "web" captions where half are wrong.
import torch
from transformers import BlipForImageTextRetrieval, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-itm")
processor = BlipProcessor.from_pretrained(folder)
model = BlipForImageTextRetrieval.from_pretrained(folder).eval()

world = ShapesWorld("test", image_size=64, max_objects=2, seed=0)
scenes = [world[i] for i in range(100)]
# Even scenes keep their own caption. Odd scenes get the caption of the next scene, like a wrong alt-text.
texts = [scene.captions[0] if i % 2 == 0 else scenes[(i + 1) % len(scenes)].captions[0] for i, scene in enumerate(scenes)]
is_right = torch.tensor([i % 2 == 0 for i in range(len(scenes))])

inputs = processor(images=[scene.image for scene in scenes], text=texts, padding=True, return_tensors="pt")
with torch.no_grad():
    keep = model(**inputs, use_itm_head=True).itm_score.softmax(dim=-1)[:, 1] > 0.5  # (B,)
print(f"kept {keep[is_right].float().mean():.0%} of the right captions")
print(f"kept {keep[~is_right].float().mean():.0%} of the wrong captions")
# --8<-- [end:capfilt]

# --8<-- [start:diversity]
# Exercise 3: how many different captions do five runs give, greedy against nucleus sampling?
import torch
from transformers import BlipForConditionalGeneration, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-captioning")
processor = BlipProcessor.from_pretrained(folder)
model = BlipForConditionalGeneration.from_pretrained(folder).eval()

scenes = [ShapesWorld("test", image_size=64, max_objects=2, seed=0)[i] for i in range(20)]
pixel_values = processor(images=[scene.image for scene in scenes], return_tensors="pt").pixel_values
torch.manual_seed(0)
for name, settings in {"greedy": dict(do_sample=False), "nucleus": dict(do_sample=True, top_p=0.9, top_k=0)}.items():
    runs = []
    with torch.no_grad():
        for _ in range(5):
            ids = model.generate(pixel_values=pixel_values, max_new_tokens=20, **settings)
            runs.append(processor.batch_decode(ids, skip_special_tokens=True))
    distinct = sum(len({run[i] for run in runs}) for i in range(len(scenes))) / len(scenes)
    print(f"{name:<8} {distinct:.1f} different captions per scene out of 5 runs")
# --8<-- [end:diversity]
