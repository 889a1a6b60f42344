"""Worked solutions of the applications chapter's exercises; the page embeds one section per solution."""

# --8<-- [start:by_example]
import torch
import torch.nn.functional as F
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)


@torch.no_grad()
def embed_images(images: list) -> torch.Tensor:
    """Embed images as unit-length vectors (N, D)."""
    inputs = processor(images=images, return_tensors="pt")
    return F.normalize(model.get_image_features(**inputs).pooler_output, dim=-1)


# The index: 500 test scenes. The queries: 50 val photos, "find scenes like this one".
indexed = ShapesWorld("test", min_objects=1, max_objects=2, seed=0).scenes(range(500))
queries = ShapesWorld("val", min_objects=1, max_objects=2, seed=0).scenes(range(50))
scores = embed_images([s.image for s in queries]) @ embed_images([s.image for s in indexed]).T  # (50, 500)
top_5 = scores.topk(5, dim=1).indices  # (50, 5)


def objects_of(scene) -> list[tuple[str, str]]:
    """Return the scene's color-shape pairs, sorted so that two scenes compare by content."""
    return sorted(obj.pair for obj in scene.objects)


for name, same in {
    "same objects (colors and shapes)": lambda a, b: objects_of(a) == objects_of(b),
    "same canonical caption": lambda a, b: a.captions[0] == b.captions[0],
}.items():
    hits = [same(query, indexed[i]) for query, row in zip(queries, top_5.tolist()) for i in row]
    print(f"precision@5, {name}: {sum(hits) / len(hits):.1%}")
# --8<-- [end:by_example]

# --8<-- [start:second_opinion]
import torch
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor

import vlmbook
from vlmbook.evaluation import caption_attribute_accuracy, roc_auc
from vlmbook.shapesworld import ShapesWorld

captioner_folder, matcher_folder = vlmbook.checkpoint("blip-captioning"), vlmbook.checkpoint("blip-itm")
captioner = BlipForConditionalGeneration.from_pretrained(captioner_folder).eval()
matcher = BlipForImageTextRetrieval.from_pretrained(matcher_folder).eval()
captioner_processor = BlipProcessor.from_pretrained(captioner_folder)
matcher_processor = BlipProcessor.from_pretrained(matcher_folder)

scenes = ShapesWorld("test", min_objects=1, max_objects=2, seed=0).scenes(range(300))
images = [scene.image for scene in scenes]
with torch.no_grad():
    inputs = captioner_processor(images=images, return_tensors="pt")
    output = captioner.generate(**inputs, max_new_tokens=20, output_scores=True, return_dict_in_generate=True)
    log_probs = captioner.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
    is_token = output.sequences[:, 1:] != captioner_processor.tokenizer.pad_token_id
    token_confidence = log_probs.masked_fill(~is_token, 0.0).amin(dim=1).exp()  # weakest token, as in the chapter
    captions = [c.strip() for c in captioner_processor.batch_decode(output.sequences, skip_special_tokens=True)]

    # The second opinion: the ITM head reads the image and the generated caption together.
    pairs = matcher_processor(images=images, text=captions, padding=True, return_tensors="pt")
    match_probability = matcher(**pairs, use_itm_head=True).itm_score.softmax(dim=-1)[:, 1]  # (300,)

right = [int(caption_attribute_accuracy([c], [s.captions[0]])["all"] == 1.0) for c, s in zip(captions, scenes)]
combined = token_confidence * match_probability  # both must be confident
for name, score in {"token confidence": token_confidence, "ITM match probability": match_probability,
                    "product of both": combined}.items():
    print(f"ROC-AUC for a right caption, {name:<22} {roc_auc(score.tolist(), right):.3f}")
# --8<-- [end:second_opinion]

# --8<-- [start:cost]
import torch
from transformers import BlipForQuestionAnswering, BlipProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("blip-vqa")
processor = BlipProcessor.from_pretrained(folder)
model = BlipForQuestionAnswering.from_pretrained(folder).eval()


@torch.no_grad()
def answer_with_confidence(split: str, num_scenes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Answer every question of the first scenes of a split; return each answer's confidence and correctness."""
    scenes = ShapesWorld(split, min_objects=1, max_objects=2, seed=0).scenes(range(num_scenes))
    items = [(scene.image, qa) for scene in scenes for qa in scene.questions]
    inputs = processor(images=[i for i, _ in items], text=[qa.question for _, qa in items], padding=True,
                       return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=4, output_scores=True, return_dict_in_generate=True)
    log_probs = model.compute_transition_scores(output.sequences, output.scores, normalize_logits=True)
    is_token = output.sequences[:, 1:] != processor.tokenizer.pad_token_id
    confidence = log_probs.masked_fill(~is_token, 0.0).sum(dim=1).exp()
    answers = [a.strip() for a in processor.batch_decode(output.sequences, skip_special_tokens=True)]
    return confidence, torch.tensor([a == qa.answer for a, (_, qa) in zip(answers, items)])


def cost_per_question(confidence, correct, threshold: float, error_cost: float) -> float:
    """Mean cost: a rejected question costs 1 (a person checks it), a wrong answer costs error_cost, a right one 0."""
    answered = confidence >= threshold
    return (answered & ~correct).float().mul(error_cost).add((~answered).float()).mean().item()


val_confidence, val_correct = answer_with_confidence("val", 100)
test_confidence, test_correct = answer_with_confidence("test", 200)
candidates = [0.0, *sorted(set(val_confidence.tolist())), float("inf")]  # answer all ... answer none
for error_cost in (2.0, 10.0, 50.0):
    best = min(candidates, key=lambda t: cost_per_question(val_confidence, val_correct, t, error_cost))
    coverage = (test_confidence >= best).float().mean().item()
    test_cost = cost_per_question(test_confidence, test_correct, best, error_cost)
    print(f"error costs {error_cost:>4.0f}x a check: threshold {best:.3f}, test coverage {coverage:.1%}, "
          f"cost per question {test_cost:.3f}")
# --8<-- [end:cost]
