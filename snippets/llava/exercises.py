"""Worked solutions of the LLaVA chapter's exercises. Each section runs on its own."""

# --8<-- [start:token_counter]
def image_token_count(image_size: int, patch_size: int, strategy: str = "default") -> int:
    """Image tokens that LLaVA writes for one image: one per patch, plus CLS with "full"."""
    if strategy not in ("default", "full"):
        raise ValueError(f"invalid vision_feature_select_strategy {strategy!r}; use 'default' or 'full'")
    num_patches = (image_size // patch_size) ** 2
    return num_patches + (1 if strategy == "full" else 0)


for image_size, strategy in ((336, "default"), (336, "full"), (224, "default")):
    print(f"{image_size} px, {strategy}: {image_token_count(image_size, 14, strategy)} tokens")
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

scenes = [ShapesWorld("test", max_objects=2, seed=0)[i] for i in range(40)]
exists = [qa for scene in scenes for qa in scene.questions if qa.kind == "exists"]
questions = [qa.question for qa in exists]
blank = Image.new("RGB", scenes[0].image.size, (128, 128, 128))

real_answers = recipe.answer(model, processor, [s.image for s in scenes for qa in s.questions if qa.kind == "exists"], questions)
blank_answers = recipe.answer(model, processor, [blank] * len(questions), questions)
truth_yes = sum(qa.answer == "yes" for qa in exists) / len(exists)
print(f"{len(questions)} questions; 'yes' is the right answer for {truth_yes:.0%} of them on the real scenes")
print(f"'yes' ratio, real scenes: {sum(a == 'yes' for a in real_answers) / len(questions):.0%}")
print(f"'yes' ratio, blank image: {sum(a == 'yes' for a in blank_answers) / len(questions):.0%}")
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
for scene in (ShapesWorld("test", max_objects=2, seed=0)[i] for i in range(80)):
    present = {(obj.color, obj.shape) for obj in scene.objects}
    colors, shapes = {c for c, _ in present}, {s for _, s in present}
    absent = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in present]
    # Confusable: shares a color or a shape with an object in the scene. Unrelated: shares neither.
    confusable = [(c, s) for c, s in absent if c in colors or s in shapes]
    unrelated = [(c, s) for c, s in absent if c not in colors and s not in shapes]
    for group, pairs in (("confusable", confusable), ("unrelated", unrelated)):
        if pairs:
            color, shape = rng.choice(pairs)
            images.append(scene.image)
            article = "an" if color[0] in "aeiou" else "a"  # "an orange circle", as ShapesWorld writes it
            questions.append(f"is there {article} {color} {shape}?")
            groups.append(group)

answers = recipe.answer(model, processor, images, questions)
for group in ("confusable", "unrelated"):
    answered_yes = [a == "yes" for a, g in zip(answers, groups) if g == group]
    print(f"{group:<10} {len(answered_yes)} questions, hallucination rate {sum(answered_yes) / len(answered_yes):.1%}")
# --8<-- [end:confusable]
