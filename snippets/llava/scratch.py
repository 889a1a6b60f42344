"""The from-scratch LLaVA of vlmbook against transformers, and one training sample of the recipe.

The page embeds the `parity` and `training_sample` sections. Each runs on its own.
"""

# --8<-- [start:parity]
import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.llava import Llava
from vlmbook.recipes.llava import chat_prompt
from vlmbook.shapesworld import ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
reference = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
scratch = Llava.from_pretrained(checkpoint)  # the same weights, PyTorch-only modules

scene = ShapesWorld("test", max_objects=2, seed=0)[0]
prompt = chat_prompt(processor, "what color is the small circle?")
inputs = processor(images=scene.image, text=prompt, return_tensors="pt")

with torch.no_grad():
    reference_logits = reference(**inputs).logits  # (1, T, V)
    scratch_logits = scratch(inputs.input_ids, inputs.pixel_values).logits
    reference_ids = reference.generate(**inputs, max_new_tokens=3, do_sample=False)
    scratch_ids = scratch.generate(
        inputs.input_ids, inputs.pixel_values, max_new_tokens=3
    )

gap = (reference_logits - scratch_logits).abs().max().item()
print("logits within 1e-4:", gap < 1e-4)
print("same generated ids:", torch.equal(reference_ids, scratch_ids))
# --8<-- [end:parity]

# --8<-- [start:training_sample]
from vlmbook.recipes.llava import LlavaRecipe

recipe = LlavaRecipe()
model, processor = recipe.build()  # a fresh, untrained model and its processor
# Scene 1: every question of the scene is one turn, then a caption turn.
# Scene 0 (its index is a multiple of the recipe's CAPTION_ONLY_EVERY): the caption request alone.
batch = recipe.make_batch([1, 0])  # two training sequences from the train split
for row in range(2):
    length = int(batch["attention_mask"][row].sum())  # the positions after it are padding
    tokens = processor.tokenizer.convert_ids_to_tokens(batch["input_ids"][row, :length])
    labels = batch["labels"][row, :length].tolist()  # -100 where the loss ignores the position
    text = " ".join(token for token in tokens if token != processor.image_token)
    print(text.replace(" </s> user :", " </s>\nuser :"))
    print("trained on:", [token for token, label in zip(tokens, labels) if label != -100])
# --8<-- [end:training_sample]
