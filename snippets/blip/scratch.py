"""The from-scratch BLIP captioner of vlmbook against transformers, on the same checkpoint.

The chapter embeds the `parity` section. `vlmbook.blip.BlipForCaptioning`
reads the local checkpoint folder itself, so this section needs the embedded
checkpoint (or another local folder), not a Hub id.
"""

# --8<-- [start:parity]
import torch
from transformers import BlipForConditionalGeneration, BlipProcessor

import vlmbook
from vlmbook.blip import BlipForCaptioning
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-captioning")
processor = BlipProcessor.from_pretrained(folder)
ours = BlipForCaptioning.from_pretrained(folder)  # vlmbook.blip: plain PyTorch
theirs = BlipForConditionalGeneration.from_pretrained(folder).eval()  # transformers

scene = ShapesWorld("test", image_size=64, max_objects=2, seed=0)[0]
inputs = processor(images=scene.image, text="a red circle", return_tensors="pt")
input_ids = inputs.input_ids.clone()  # (1, T): [CLS] a red circle [SEP]
input_ids[:, 0] = theirs.config.text_config.bos_token_id  # the decoder starts from [DEC], not [CLS]

with torch.no_grad():
    our_logits, text_out = ours(inputs.pixel_values, input_ids)  # (1, T, V)
    their_logits = theirs(pixel_values=inputs.pixel_values, input_ids=input_ids).logits  # (1, T, V)
print("cross-attention of layer 1:", tuple(text_out.cross_attentions[0].shape))
print("logits match within 1e-4:", torch.allclose(our_logits, their_logits, atol=1e-4))
# --8<-- [end:parity]
