"""Tests of the checkpoints shipped in vlmbook/embedded/: records, quality bars and loading.

The quality bars are read from each metrics.json, and then re-measured on
fewer test scenes, so a recorded number that the weights do not reach fails.
"""

import json
import math
import shlex

import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForImageTextToText,
    AutoModelForVisualQuestionAnswering,
    AutoProcessor,
    BlipForImageTextRetrieval,
    pipeline,
)

from vlmbook.checkpoints import EMBEDDED_DIR, NAMES, checkpoint, load_checkpoint
from vlmbook.recipes import get_recipe
from vlmbook.shapesworld import ShapesWorld

# (metric, minimum) pairs that each shipped checkpoint must reach on the test split.
QUALITY_BARS = {
    "clip": [("zero_shot_accuracy", 0.95), ("t2i_r1", 0.90)],
    "blip-captioning": [("attribute_accuracy", 0.90)],
    "blip-vqa": [("vqa_accuracy_color", 0.90), ("vqa_accuracy_shape", 0.90), ("vqa_accuracy_count", 0.75)],
    "blip-itm": [("itm_roc_auc", 0.95)],
    "llava": [("answer_accuracy_all", 0.85)],
}
RECHECK_SCENES = 100
MAX_TOTAL_BYTES = 25 * 1024 * 1024


def recorded(name):
    return json.loads((EMBEDDED_DIR / name / "metrics.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_record_has_command_seed_and_timing(name):
    record = recorded(name)
    command = shlex.split(record["command"])
    assert command[:3] == ["vlmbook", "train", name]
    assert command[command.index("--out") + 1] == f"vlmbook/embedded/{name}"
    assert record["seed"] == int(command[command.index("--seed") + 1])
    assert record["train_seconds"] > 0
    assert record["steps"] == record["max_steps"], "a shipped run must finish its steps to be reproducible"


# Bars that the shipped checkpoints do not reach yet. strict=True: once a retrained checkpoint
# reaches its bar, the test fails until its entry here is removed.
KNOWN_MISSES = {
    ("llava", "answer_accuracy_all"): "0.790 on 500 test scenes",
}
BAR_CASES = [
    pytest.param(name, metric, minimum, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[name, metric])])
    if (name, metric) in KNOWN_MISSES
    else pytest.param(name, metric, minimum)
    for name in NAMES
    for metric, minimum in QUALITY_BARS[name]
]


@pytest.mark.parametrize("name, metric, minimum", BAR_CASES)
def test_recorded_metric_meets_bar(name, metric, minimum):
    value = recorded(name)["metrics"][metric]
    assert value >= minimum, f"{name}: {metric} = {value:.3f} < {minimum}"


def test_llava_records_hallucination_rate():
    assert 0.0 <= recorded("llava")["metrics"]["hallucination_rate"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_shipped_weights_reproduce_recorded_metrics(name):
    model, processor = load_checkpoint(name)
    metrics = get_recipe(name, seed=recorded(name)["seed"]).evaluate(model, processor, num_scenes=RECHECK_SCENES)
    recorded_metrics = recorded(name)["metrics"]
    for metric, _ in QUALITY_BARS[name]:
        value, expected = metrics[metric], recorded_metrics[metric]
        # The recheck uses the first RECHECK_SCENES of the recorded scenes: allow 3 binomial
        # standard errors of the smaller sample, plus 0.02.
        tolerance = 3 * math.sqrt(max(expected * (1 - expected), 0.01) / RECHECK_SCENES) + 0.02
        assert abs(value - expected) <= tolerance, f"{name}: {metric} recheck {value:.3f}, recorded {expected:.3f}"


def test_embedded_checkpoints_are_small():
    total = sum(path.stat().st_size for name in NAMES for path in (EMBEDDED_DIR / name).iterdir())
    assert total < MAX_TOTAL_BYTES, f"embedded checkpoints take {total / 2**20:.1f} MB"


def test_no_pickle_files_are_shipped():
    for name in NAMES:
        suffixes = {path.suffix for path in (EMBEDDED_DIR / name).iterdir()}
        assert not suffixes & {".bin", ".pt", ".pth", ".pkl", ".ckpt"}, name


@pytest.mark.parametrize(
    "name, auto_class, class_name",
    [
        ("clip", AutoModel, "CLIPModel"),
        ("blip-captioning", AutoModelForImageTextToText, "BlipForConditionalGeneration"),
        ("blip-vqa", AutoModelForVisualQuestionAnswering, "BlipForQuestionAnswering"),
        ("blip-itm", BlipForImageTextRetrieval, "BlipForImageTextRetrieval"),
        ("llava", AutoModelForImageTextToText, "LlavaForConditionalGeneration"),
    ],
)
def test_loads_offline_with_transformers(name, auto_class, class_name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = auto_class.from_pretrained(checkpoint(name), use_safetensors=True, local_files_only=True)
    processor = AutoProcessor.from_pretrained(checkpoint(name), local_files_only=True)
    assert type(model).__name__ == class_name
    assert processor.tokenizer.convert_ids_to_tokens(processor.tokenizer("a red circle").input_ids)[1:4] == [
        "a", "red", "circle"
    ]


def test_llava_loads_with_automodel():
    assert type(AutoModel.from_pretrained(checkpoint("llava"), use_safetensors=True)).__name__ == "LlavaModel"


def single_object_scenes(count=10):
    world = ShapesWorld("test", min_objects=1, max_objects=1, seed=0)
    return [world[i] for i in range(count)]


def test_clip_zero_shot_pipeline():
    classifier = pipeline("zero-shot-image-classification", model=checkpoint("clip"))
    labels = [f"a large {c} {s}" for c in ("red", "green", "blue", "yellow", "purple", "orange")
              for s in ("circle", "square", "triangle")]
    scenes = [scene for scene in single_object_scenes(20) if scene.objects[0].size == "large"]
    correct = 0
    for scene in scenes:
        # The pipeline's default template "This is a photo of {}." has words outside ShapesWorld's vocabulary.
        best = classifier(scene.image, candidate_labels=labels, hypothesis_template="{}")[0]["label"]
        correct += best == f"a large {scene.objects[0].color} {scene.objects[0].shape}"
    assert correct >= 0.8 * len(scenes), f"{correct} of {len(scenes)}"


def test_blip_captioning_pipeline_matches_generate():
    captioner = pipeline("image-text-to-text", model=checkpoint("blip-captioning"))
    model, processor = load_checkpoint("blip-captioning")
    scene = single_object_scenes(1)[0]
    from_pipeline = captioner(images=scene.image, text="", max_new_tokens=20)[0]["generated_text"]
    pixel_values = processor(images=[scene.image], return_tensors="pt").pixel_values
    with torch.no_grad():
        from_generate = processor.batch_decode(model.generate(pixel_values=pixel_values, max_new_tokens=20),
                                               skip_special_tokens=True)[0]
    assert from_pipeline.replace("</s>", "").strip() == from_generate.strip()
    assert from_generate.strip() == scene.captions[0]


def test_llava_pipeline_answers_color_question():
    answerer = pipeline("image-text-to-text", model=checkpoint("llava"))
    scene = single_object_scenes(1)[0]
    messages = [{"role": "user", "content": [{"type": "image", "image": scene.image},
                                             {"type": "text", "text": f"what color is the {scene.objects[0].shape}?"}]}]
    reply = answerer(text=messages, max_new_tokens=3, return_full_text=False)[0]["generated_text"]
    assert reply.split()[0] == scene.objects[0].color
