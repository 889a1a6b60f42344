"""Worked solutions of the CLIP chapter's exercises; the page embeds one section per solution."""

# --8<-- [start:perfect]
import torch

from vlmbook.clip import contrastive_loss

# Four pairs whose image and caption embeddings coincide and are orthogonal to the others:
# the diagonal logit is 1 / temperature, every other logit 0.
similarity = torch.eye(4)  # (4, 4): cosine similarities
for temperature in (1.0, 0.07, 0.01):
    loss = contrastive_loss(similarity / temperature)
    print(f"temperature {temperature:<5} loss {loss.item():.6f}")
# --8<-- [end:perfect]

# --8<-- [start:template]
import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import COLORS, SHAPES, ShapesWorld

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)
classes = [(color, shape) for color in COLORS for shape in SHAPES]
world = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
scenes = [world[i] for i in range(300)]
truth = torch.tensor([classes.index(scene.objects[0].pair) for scene in scenes])

with torch.no_grad():
    image_inputs = processor(images=[scene.image for scene in scenes], return_tensors="pt")
    image_embeds = F.normalize(model.get_image_features(**image_inputs).pooler_output, dim=-1)  # (300, D)
    for template in ("a large {color} {shape}", "a large {color} {shape} in the center"):
        texts = [template.format(color=color, shape=shape) for color, shape in classes]
        text_inputs = processor(text=texts, return_tensors="pt", padding=True)
        text_embeds = F.normalize(model.get_text_features(**text_inputs).pooler_output, dim=-1)  # (18, D)
        accuracy = ((image_embeds @ text_embeds.T).argmax(dim=1) == truth).float().mean().item()
        print(f"{template:<40} {accuracy:.1%}")
# --8<-- [end:template]

# --8<-- [start:retrieval]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.evaluation import recall_at_k
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)
world = ShapesWorld("test", min_objects=1, max_objects=2, seed=0)
scenes = [world[i] for i in range(100)]
captions = [scene.captions[0] for scene in scenes]

with torch.no_grad():
    inputs = processor(text=captions, images=[s.image for s in scenes], return_tensors="pt", padding=True)
    similarity = model(**inputs).logits_per_text  # (100 captions, 100 images)

# A retrieved image is right when its caption equals the query: ShapesWorld repeats captions.
is_match = torch.tensor([[a == b for b in captions] for a in captions])  # (100, 100)
for k in (1, 5):
    print(f"text-to-image recall@{k}: {recall_at_k(similarity, is_match, k):.1%}")
# --8<-- [end:retrieval]
