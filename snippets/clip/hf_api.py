"""The CLIP chapter's transformers code: the from-scratch model beside CLIPModel, then the pipeline.

Not a generator: the page embeds these sections as code blocks, and the
book's tests run them. The same code runs on `openai/clip-vit-base-patch32`
when VLMBOOK_CHECKPOINTS=hub.
"""

# --8<-- [start:parity]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.clip import CLIP
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")
theirs = CLIPModel.from_pretrained(folder, attn_implementation="eager").eval()
ours = CLIP.from_pretrained(folder)  # the from-scratch module, filled with the same weights
processor = CLIPProcessor.from_pretrained(folder)

scenes = [ShapesWorld("test", seed=0)[i] for i in range(4)]
inputs = processor(text=[s.captions[0] for s in scenes], images=[s.image for s in scenes],
                   return_tensors="pt", padding=True)
with torch.no_grad():
    expected = theirs(**inputs).logits_per_image  # (4, 4)
    actual = ours(inputs.input_ids, inputs.pixel_values, inputs.attention_mask).logits_per_image  # (4, 4)
print(f"logits_per_image {tuple(actual.shape)}, same as transformers within 1e-4: "
      f"{torch.allclose(actual, expected, atol=1e-4)}")
# --8<-- [end:parity]

# --8<-- [start:model]
import torch
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")  # VLMBOOK_CHECKPOINTS=hub: "openai/clip-vit-base-patch32"
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)

labels = ["red circle", "blue square", "orange triangle", "yellow circle"]
image = ShapesWorld("test", max_objects=1, seed=0)[1].image  # one large orange triangle
# The embedded model's training captions always state the size, so the prompts state it too.
inputs = processor(text=[f"a large {label}" for label in labels], images=image, return_tensors="pt", padding=True)
with torch.no_grad():
    probs = model(**inputs).logits_per_image.softmax(dim=-1)[0]  # (4,): one image, four prompts
print(f"{labels[probs.argmax()]} ({probs.max():.0%})")
# --8<-- [end:model]

# --8<-- [start:pipeline]
from transformers import pipeline

import vlmbook
from vlmbook.shapesworld import ShapesWorld

classifier = pipeline("zero-shot-image-classification", model=vlmbook.checkpoint("clip"))
image = ShapesWorld("test", max_objects=1, seed=0)[1].image  # one large orange triangle
results = classifier(image, candidate_labels=["red circle", "blue square", "orange triangle", "yellow circle"],
                     hypothesis_template="a large {}")
for result in results[:2]:
    print(f"{result['label']:<15} {result['score']:.2f}")
# --8<-- [end:pipeline]
