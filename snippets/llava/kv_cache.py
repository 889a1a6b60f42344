"""Generator: greedy generation with and without the key-value cache.

The page embeds the `compare` section, and the times in the text are the ones
this code measured when the book was built.
"""

# --8<-- [start:compare]
import time

import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.shapesworld import ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
processor.tokenizer.padding_side = "left"
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()

world = ShapesWorld("test", max_objects=3, seed=0)
scenes = [world[i] for i in range(8)]
conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what color is the circle?"}]}]
prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
inputs = processor(images=[s.image for s in scenes], text=[prompt] * len(scenes), padding=True, return_tensors="pt")

# min_new_tokens suppresses </s>, so both runs decode exactly NEW_TOKENS steps.
NEW_TOKENS = 24
settings = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
seconds, outputs = {True: [], False: []}, {}
with torch.no_grad():
    model.generate(**inputs, max_new_tokens=2)  # warm-up: the first call pays one-time setup costs
    for repeat in range(3):  # alternate the two settings and keep each one's fastest run
        for use_cache in (True, False):
            start = time.process_time()
            outputs[use_cache] = model.generate(**inputs, use_cache=use_cache, **settings)
            seconds[use_cache].append(time.process_time() - start)
seconds = {use_cache: min(runs) for use_cache, runs in seconds.items()}

print("same tokens:", torch.equal(outputs[True], outputs[False]))
# --8<-- [end:compare]

from vlmbook.book import markdown


@markdown("llava-kv-seconds-cached")
def cached_seconds(lang: str) -> str:
    return f"{seconds[True]:.2f}"


@markdown("llava-kv-seconds-uncached")
def uncached_seconds(lang: str) -> str:
    return f"{seconds[False]:.2f}"


@markdown("llava-kv-speedup")
def speedup(lang: str) -> str:
    return f"{seconds[False] / seconds[True]:.1f}"
