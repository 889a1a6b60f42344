"""Worked solutions of the comparison chapter's exercises. Each section runs on its own."""

# --8<-- [start:passes]
import torch

from vlmbook.checkpoints import load_checkpoint
from vlmbook.recipes.clip import embed_images, embed_texts
from vlmbook.shapesworld import ShapesWorld


def transformer_passes(design: str, num_images: int, num_texts: int) -> int:
    """Count the sequences that go through a transformer to score every image against every text."""
    if design == "dual encoder":  # each image and each text once; scores are dot products
        return num_images + num_texts
    if design == "fusion encoder":  # each image once, then the text encoder once per pair
        return num_images + num_images * num_texts
    if design == "projector + LLM":  # the vision tower once per image, then the LLM once per pair
        return num_images + num_images * num_texts  # each LLM pass reads all image tokens and the text
    raise ValueError(f"unknown design {design!r}; use 'dual encoder', 'fusion encoder' or 'projector + LLM'")


for design in ("dual encoder", "fusion encoder", "projector + LLM"):
    print(f"{design:<15} 1,000 images x 100 texts: {transformer_passes(design, 1000, 100):>7,} passes")


def count_rows(module: torch.nn.Module) -> dict[str, int]:
    """Count the sequences that pass through `module`, with a forward hook."""
    counter = {"rows": 0}

    def hook(module, inputs, output):
        counter["rows"] += output.last_hidden_state.shape[0]

    module.register_forward_hook(hook)
    return counter


scenes = [ShapesWorld("test", max_objects=2, seed=0)[i] for i in range(3)]
images, texts = [s.image for s in scenes], ["a red circle", "a blue square", "two objects", "one triangle"]

clip, clip_processor = load_checkpoint("clip")
clip_images, clip_texts = count_rows(clip.vision_model), count_rows(clip.text_model)
similarity = embed_images(clip, clip_processor, images) @ embed_texts(clip, clip_processor, texts).T
print(f"CLIP: {tuple(similarity.shape)} scores from {clip_images['rows']} image and "
      f"{clip_texts['rows']} text sequences")

blip, blip_processor = load_checkpoint("blip-itm")
fused = count_rows(blip.text_encoder)
pairs = blip_processor(images=[i for i in images for _ in texts], text=texts * len(images),
                       padding=True, return_tensors="pt")
with torch.no_grad():
    scores = blip(**pairs, use_itm_head=True).itm_score.view(len(images), len(texts), 2)
print(f"BLIP ITM: {tuple(scores.shape[:2])} scores from {fused['rows']} fused text sequences")
# --8<-- [end:passes]

# --8<-- [start:llava_classify]
import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration

import vlmbook
from vlmbook.checkpoints import load_checkpoint
from vlmbook.recipes.clip import zero_shot_accuracy
from vlmbook.recipes.llava import chat_prompt
from vlmbook.shapesworld import COLORS, SHAPES, ShapesWorld
from vlmbook.shapesworld_text import article

checkpoint = vlmbook.checkpoint("llava")
model = LlavaForConditionalGeneration.from_pretrained(checkpoint).eval()
processor = AutoProcessor.from_pretrained(checkpoint)
processor.tokenizer.padding_side = "left"  # the last position is where the answer starts

classes = [(color, shape) for color in COLORS for shape in SHAPES]
prompts = [chat_prompt(processor, f"is there {article(c)} {c} {s}?") for c, s in classes]
yes_id = processor.tokenizer.convert_tokens_to_ids("yes")

world = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
scenes = [world[i] for i in range(24)]
correct = 0
for scene in scenes:
    inputs = processor(images=[scene.image] * len(prompts), text=prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        next_token = model(**inputs).logits[:, -1]  # (N_class, vocabulary): the first answer token
    yes_score = next_token.log_softmax(dim=-1)[:, yes_id]  # (N_class,)
    correct += classes[yes_score.argmax()] == (scene.objects[0].color, scene.objects[0].shape)

print(f"LLaVA, the class with the most confident 'yes': {correct / len(scenes):.1%} "
      f"({len(scenes) * len(classes)} language-model passes)")
print(f"CLIP, embedding similarity: {zero_shot_accuracy(*load_checkpoint('clip'), scenes):.1%}")
# --8<-- [end:llava_classify]

# --8<-- [start:binding]
import torch

from vlmbook.checkpoints import load_checkpoint
from vlmbook.recipes.clip import embed_images, embed_texts
from vlmbook.shapesworld import ShapesWorld, swap_attribute

world = ShapesWorld("test", min_objects=2, max_objects=2, seed=0)
# Two objects that differ in color and in shape, so the color-swapped caption is false.
scenes = [
    scene for scene in (world[i] for i in range(300))
    if len({obj.color for obj in scene.objects}) == 2 and len({obj.shape for obj in scene.objects}) == 2
][:100]
images = [scene.image for scene in scenes]
true_captions = [scene.captions[0] for scene in scenes]
swapped_captions = [swap_attribute(caption, "color") for caption in true_captions]

clip, clip_processor = load_checkpoint("clip")
image_embeds = embed_images(clip, clip_processor, images)  # (N, D_proj)
clip_true = (image_embeds * embed_texts(clip, clip_processor, true_captions)).sum(dim=-1)  # (N,)
clip_swapped = (image_embeds * embed_texts(clip, clip_processor, swapped_captions)).sum(dim=-1)

blip, blip_processor = load_checkpoint("blip-itm")


def match_probability(texts: list[str]) -> torch.Tensor:
    """P(match) of each scene with its text from BLIP's ITM head, shape (N,)."""
    inputs = blip_processor(images=images, text=texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return blip(**inputs, use_itm_head=True).itm_score.softmax(dim=-1)[:, 1]


blip_true, blip_swapped = match_probability(true_captions), match_probability(swapped_captions)
print(f"{len(scenes)} scenes, e.g. {true_captions[0]!r} against {swapped_captions[0]!r}")
print(f"CLIP prefers the true caption in {(clip_true > clip_swapped).float().mean():.0%} of the scenes")
print(f"BLIP ITM prefers the true caption in {(blip_true > blip_swapped).float().mean():.0%} of the scenes")
# --8<-- [end:binding]
