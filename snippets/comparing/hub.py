"""The comparison chapter's side-by-side answers, for the embedded and the public checkpoints.

Not a generator: the page embeds the `ask` section in both tabs, and the
book's tests run it on the embedded checkpoints. With
VLMBOOK_CHECKPOINTS=hub the same code loads `Salesforce/blip-vqa-base` and
`llava-hf/llava-1.5-7b-hf`.
"""

# --8<-- [start:ask]
from vlmbook.checkpoints import load_checkpoint
from vlmbook.recipes import get_recipe
from vlmbook.shapesworld import ShapesWorld

scene = ShapesWorld("test", max_objects=2, seed=0)[0]
questions = [qa.question for qa in scene.questions]
answers = {}
for name in ("blip-vqa", "llava"):
    model, processor = load_checkpoint(name)  # checkpoint(name): embedded folder or Hub id
    if name == "llava":
        processor.tokenizer.padding_side = "left"  # a batch of prompts ends where answers start
    answers[name] = get_recipe(name).answer(model, processor, [scene.image] * len(questions), questions)

print(f"{'question':<50} {'truth':<8} {'BLIP VQA':<10} LLaVA")
for qa, blip_answer, llava_answer in zip(scene.questions, answers["blip-vqa"], answers["llava"]):
    print(f"{qa.question:<50} {qa.answer:<8} {blip_answer:<10} {llava_answer}")
# --8<-- [end:ask]
