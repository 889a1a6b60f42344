"""Worked solutions of the LLaVA chapter's exercises. Each section runs on its own."""

# --8<-- [start:token_counter]
def image_token_count(image_size: int, patch_size: int, strategy: str) -> int:
    """Count the image tokens of one image: one per patch, plus CLS with "full"."""
    if strategy not in ("default", "full"):
        raise ValueError(
            f"invalid vision_feature_select_strategy {strategy!r}; "
            "use 'default' or 'full'"
        )
    num_patches = (image_size // patch_size) ** 2
    return num_patches + (1 if strategy == "full" else 0)


for image_size, strategy in ((336, "default"), (336, "full"), (224, "default")):
    count = image_token_count(image_size, 14, strategy)
    print(f"{image_size} px, {strategy}: {count} tokens")
try:
    image_token_count(336, 14, "patch")
except ValueError as error:
    print(f"ValueError: {error}")
# --8<-- [end:token_counter]

# --8<-- [start:blank_image]
from PIL import Image
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.recipes import get_recipe
from vlmbook.shapesworld import ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
processor = AutoProcessor.from_pretrained(checkpoint)
processor.tokenizer.padding_side = "left"
recipe = get_recipe("llava")

world = ShapesWorld("test", max_objects=2, seed=0)
scenes = [world[i] for i in range(40)]
pairs = [(s.image, qa) for s in scenes for qa in s.questions if qa.kind == "exists"]
questions = [qa.question for _, qa in pairs]
blank = Image.new("RGB", pairs[0][0].size, (128, 128, 128))


def yes_ratio(images) -> float:
    """Share of the exists questions that the model answers "yes" about `images`."""
    answers = recipe.answer(model, processor, images, questions)
    return sum(answer == "yes" for answer in answers) / len(answers)


truly_yes = sum(qa.answer == "yes" for _, qa in pairs) / len(pairs)
print(f"{len(questions)} questions, 'yes' is right for {truly_yes:.0%} on the scenes")
print(f"'yes' ratio, real scenes: {yes_ratio([image for image, _ in pairs]):.0%}")
print(f"'yes' ratio, blank image: {yes_ratio([blank] * len(pairs)):.0%}")
# --8<-- [end:blank_image]

# --8<-- [start:confusable]
import random

from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.recipes import get_recipe
from vlmbook.shapesworld import COLORS, SHAPES, ShapesWorld

checkpoint = vlmbook.checkpoint("llava")
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
processor = AutoProcessor.from_pretrained(checkpoint)
processor.tokenizer.padding_side = "left"
recipe = get_recipe("llava")
rng = random.Random(0)

images, questions, groups = [], [], []
world = ShapesWorld("test", max_objects=2, seed=0)
for index in range(80):
    scene = world[index]
    present = {(obj.color, obj.shape) for obj in scene.objects}
    colors, shapes = {c for c, _ in present}, {s for _, s in present}
    absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present]
    # Confusable pairs share a color or a shape with an object in the scene.
    confusable = [(c, s) for c, s in absent if c in colors or s in shapes]
    unrelated = [(c, s) for c, s in absent if c not in colors and s not in shapes]
    for group, candidates in (("confusable", confusable), ("unrelated", unrelated)):
        if candidates:
            color, shape = rng.choice(candidates)
            article = "an" if color[0] in "aeiou" else "a"  # "an orange circle"
            images.append(scene.image)
            questions.append(f"is there {article} {color} {shape}?")
            groups.append(group)

answers = recipe.answer(model, processor, images, questions)
for group in ("confusable", "unrelated"):
    answered_yes = [a == "yes" for a, g in zip(answers, groups) if g == group]
    rate = sum(answered_yes) / len(answered_yes)
    print(f"{group:<10} {len(answered_yes)} questions, hallucination rate {rate:.1%}")
# --8<-- [end:confusable]
