"""CLIP recipe: contrastive image-text pretraining on ShapesWorld captions.

Data: half of each batch is single-object scenes, whose captions name one
color and one shape. They carry the easiest signal and match the zero-shot
task. The other half has up to `MAX_OBJECTS` objects, so the text tower
also learns relations.

Loss: the symmetric InfoNCE loss of CLIP (Radford et al., 2021, Figure 3),
except that two scenes with the same caption count as matches of each other.
NOTE: `CLIPModel(return_loss=True)` treats every off-diagonal pair as a
negative; ShapesWorld repeats short captions within a batch, so the recipe
spreads each target over all copies of the caption instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

from vlmbook.evaluation import recall_at_k
from vlmbook.hf.configs import TINY, build_model
from vlmbook.hf.processors import build_clip_processor, normalize_pixels
from vlmbook.shapesworld import COLORS, SHAPES, SIZES, ShapesWorld
from vlmbook.shapesworld_text import article
from vlmbook.recipes.tokens import MemoizedTokenizer
from vlmbook.training import RecipeSettings

MAX_OBJECTS = 2  # retrieval captions name at most two objects and their relation
RETRIEVAL_POOL = 100  # recall@k is measured within pools of this many scenes


def class_prompts(color: str, shape: str) -> list[str]:
    """Prompts of one zero-shot class: the canonical single-object caption, once per size."""
    return [f"a {size} {color} {shape}" for size in SIZES]


@torch.no_grad()
def embed_images(model: CLIPModel, processor: CLIPProcessor, images: list) -> torch.Tensor:
    """Return L2-normalized image embeddings (N, D_proj) of PIL images."""
    pixel_values = processor(images=images, return_tensors="pt").pixel_values  # (N, 3, H, W)
    return F.normalize(model.get_image_features(pixel_values=pixel_values).pooler_output, dim=-1)


@torch.no_grad()
def embed_texts(model: CLIPModel, processor: CLIPProcessor, texts: list[str]) -> torch.Tensor:
    """Return L2-normalized text embeddings (N, D_proj)."""
    tokens = processor(text=texts, padding=True, return_tensors="pt")  # (N, T_txt)
    features = model.get_text_features(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
    return F.normalize(features.pooler_output, dim=-1)


@torch.no_grad()
def zero_shot_classify(model: CLIPModel, processor: CLIPProcessor, images: list) -> list[tuple[str, str]]:
    """Predict the (color, shape) class of each image: the class of its most similar prompt."""
    classes = [(color, shape) for color in COLORS for shape in SHAPES]
    prompts_per_class = [class_prompts(color, shape) for color, shape in classes]
    flat = [prompt for prompts in prompts_per_class for prompt in prompts]
    text_embeds = embed_texts(model, processor, flat)  # (N_class * N_prompt, D_proj)
    image_embeds = embed_images(model, processor, images)  # (N_img, D_proj)
    similarity = (image_embeds @ text_embeds.T).view(len(images), len(classes), -1)  # (N_img, N_class, N_prompt)
    best = similarity.amax(dim=2).argmax(dim=1)  # (N_img,)
    return [classes[i] for i in best.tolist()]


def zero_shot_accuracy(model: CLIPModel, processor: CLIPProcessor, scenes: list) -> float:
    """Fraction of single-object scenes whose color and shape are both predicted right."""
    predictions = zero_shot_classify(model, processor, [scene.image for scene in scenes])
    truths = [(scene.objects[0].color, scene.objects[0].shape) for scene in scenes]
    return sum(p == t for p, t in zip(predictions, truths)) / len(scenes)


def retrieval_recalls(model: CLIPModel, processor: CLIPProcessor, scenes: list) -> dict[str, float]:
    """Text-to-image and image-to-text recall@1 and @5 within pools of RETRIEVAL_POOL scenes.

    A retrieved item counts as right when its canonical caption equals the
    query's, because ShapesWorld can draw the same caption twice in a pool.
    """
    totals = {"t2i_r1": 0.0, "t2i_r5": 0.0, "i2t_r1": 0.0, "i2t_r5": 0.0}
    pools = [scenes[i : i + RETRIEVAL_POOL] for i in range(0, len(scenes), RETRIEVAL_POOL)]
    for pool in pools:
        captions = [scene.captions[0] for scene in pool]
        image_embeds = embed_images(model, processor, [scene.image for scene in pool])  # (P, D_proj)
        text_embeds = embed_texts(model, processor, captions)  # (P, D_proj)
        similarity = text_embeds @ image_embeds.T  # (P_text, P_image)
        is_match = torch.tensor([[a == b for b in captions] for a in captions])  # (P, P)
        weight = len(pool) / len(scenes)
        totals["t2i_r1"] += weight * recall_at_k(similarity, is_match, 1)
        totals["t2i_r5"] += weight * recall_at_k(similarity, is_match, 5)
        totals["i2t_r1"] += weight * recall_at_k(similarity.T, is_match.T, 1)
        totals["i2t_r5"] += weight * recall_at_k(similarity.T, is_match.T, 5)
    return totals


class ClipRecipe:
    """Recipe that trains `CLIPModel` from scratch on ShapesWorld image-caption pairs."""

    name = "clip"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.settings = RecipeSettings(
            max_steps=800, batch_size=128, learning_rate=1.5e-3, eval_every=100, warmup_steps=100,
            target=None,
        )
        size = TINY.image_size
        self.single_world = ShapesWorld("train", image_size=size, min_objects=1, max_objects=1, seed=seed)
        self.multi_world = ShapesWorld("train", image_size=size, min_objects=1, max_objects=MAX_OBJECTS, seed=seed)
        self.tokenizer = None
        self.memoized_tokenizer = None
        self._val_scenes = None

    def build(self):
        processor = build_clip_processor(self.single_world.vocabulary(), TINY.image_size, TINY.max_text_length)
        self.tokenizer = processor.tokenizer
        self.memoized_tokenizer = MemoizedTokenizer(processor.tokenizer)
        return build_model("clip", len(processor.tokenizer)), processor

    def make_batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        # Scenes: first half single-object, second half up to MAX_OBJECTS objects.
        indices = [index % len(self.single_world) for index in indices]  # later epochs reuse the scenes
        half = len(indices) // 2
        single = self.single_world.batch(indices[:half])
        multi = self.multi_world.batch(indices[half:])
        pixel_values = torch.cat([single["pixel_values"], multi["pixel_values"]])  # (B, 3, H, W) in [0, 1]
        captions = [scene.canonical_caption for scene in single["scenes"] + multi["scenes"]]

        # Text: token ids, and one group id per distinct caption for the duplicate-aware targets.
        tokens = self.memoized_tokenizer(captions)  # (B, T_txt), padded on the right
        group_of = {caption: i for i, caption in enumerate(dict.fromkeys(captions))}
        groups = torch.tensor([group_of[caption] for caption in captions])  # (B,)
        return {
            "pixel_values": normalize_pixels(pixel_values),
            "input_ids": tokens.input_ids,
            "attention_mask": tokens.attention_mask,
            "caption_groups": groups,
        }

    def compute_loss(self, model: CLIPModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        outputs = model(
            pixel_values=batch["pixel_values"], input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        )
        logits_per_image = outputs.logits_per_image  # (B_img, B_txt), already scaled by exp(logit_scale)

        # Targets: uniform over every text with the same caption as the image's own.
        groups = batch["caption_groups"]
        targets = (groups[:, None] == groups[None, :]).float()  # (B, B), symmetric
        targets = targets / targets.sum(dim=1, keepdim=True)
        image_loss = F.cross_entropy(logits_per_image, targets)
        text_loss = F.cross_entropy(logits_per_image.T, targets)
        return (image_loss + text_loss) / 2

    def _val(self) -> list:
        if self._val_scenes is None:
            world = ShapesWorld("val", image_size=TINY.image_size, min_objects=1, max_objects=1, seed=self.seed)
            self._val_scenes = [world[i] for i in range(256)]
        return self._val_scenes

    def quick_eval(self, model: CLIPModel, processor: CLIPProcessor) -> tuple[dict[str, float], str]:
        model.eval()
        scenes = self._val()
        accuracy = zero_shot_accuracy(model, processor, scenes)
        color, shape = zero_shot_classify(model, processor, [scenes[0].image])[0]
        return {"zero_shot_accuracy": accuracy}, f"{scenes[0].captions[0]} -> {article(color)} {color} {shape}"

    def evaluate(self, model: CLIPModel, processor: CLIPProcessor, num_scenes: int = 500) -> dict[str, float]:
        """Zero-shot accuracy and retrieval recalls on `test` and, separately, `test_heldout`."""
        model.eval()
        metrics = {}
        for split, prefix in (("test", ""), ("test_heldout", "heldout_")):
            size = TINY.image_size
            single = ShapesWorld(split, image_size=size, min_objects=1, max_objects=1, seed=self.seed)
            multi = ShapesWorld(split, image_size=size, min_objects=1, max_objects=MAX_OBJECTS, seed=self.seed)
            metrics[f"{prefix}zero_shot_accuracy"] = zero_shot_accuracy(
                model, processor, [single[i] for i in range(num_scenes)]
            )
            recalls = retrieval_recalls(model, processor, [multi[i] for i in range(num_scenes)])
            metrics.update({f"{prefix}{key}": value for key, value in recalls.items()})
        return metrics
