"""Generator: greedy generation with and without the key-value cache.

The page embeds the `compare` section, and the times in the text are the ones
this code measured when the book was built.
"""

# --8<-- [start:compare]
import time

import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.recipes.llava import chat_prompt
from vlmbook.shapesworld import ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
processor = AutoProcessor.from_pretrained(checkpoint)
processor.tokenizer.padding_side = "left"
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()

NUM_PROMPTS = 8  # one batch of prompts, one test scene each
NEW_TOKENS = 24
REPEATS = 3

world = ShapesWorld("test", max_objects=2, seed=0)
images = [world[i].image for i in range(NUM_PROMPTS)]
prompts = [chat_prompt(processor, "what color is the circle?")] * len(images)
inputs = processor(images=images, text=prompts, padding=True, return_tensors="pt")

# min_new_tokens suppresses </s>, so both runs decode exactly NEW_TOKENS steps.
settings = dict(max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
seconds, outputs = {True: [], False: []}, {}
with torch.no_grad():
    model.generate(**inputs, max_new_tokens=2)  # warm-up: pays the one-time costs
    for repeat in range(REPEATS):  # alternate the settings; keep each one's fastest run
        for use_cache in (True, False):
            start = time.process_time()
            output = model.generate(**inputs, use_cache=use_cache, **settings)
            outputs[use_cache] = output
            seconds[use_cache].append(time.process_time() - start)
seconds = {use_cache: min(runs) for use_cache, runs in seconds.items()}

print("same tokens:", torch.equal(outputs[True], outputs[False]))
# --8<-- [end:compare]

from vlmbook.book import markdown


@markdown("llava-kv-prompts")
def num_prompts(lang: str) -> str:
    return str(NUM_PROMPTS)


@markdown("llava-kv-new-tokens")
def new_tokens(lang: str) -> str:
    return str(NEW_TOKENS)


@markdown("llava-kv-repeats")
def repeats(lang: str) -> str:
    return str(REPEATS)


@markdown("llava-kv-seconds-cached")
def cached_seconds(lang: str) -> str:
    return f"{seconds[True]:.2f}"


@markdown("llava-kv-seconds-uncached")
def uncached_seconds(lang: str) -> str:
    return f"{seconds[False]:.2f}"


@markdown("llava-kv-speedup")
def speedup(lang: str) -> str:
    return f"{seconds[False] / seconds[True]:.1f}"
