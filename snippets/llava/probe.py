"""Generator: where the tiny LLaVA's image tokens lose an object's place, by linear probes.

The page embeds the `features` and `probe` sections. A linear probe is a
logistic regression trained on frozen features: if it can read a property
from them, the property is there in linear form (Alain and Bengio, 2016,
arXiv 1610.01644). Here the property is the grid cell (row and column of
ShapesWorld's 3x3 layout) of each object, read from the token of the patch
at the object's center, at each stage on the way from pixels to the decoder.
"""

# --8<-- [start:features]
import torch
from transformers import LlavaForConditionalGeneration

import vlmbook
from vlmbook.hf.processors import normalize_pixels
from vlmbook.shapesworld import ShapesWorld

NUM_SCENES = 1500
model = LlavaForConditionalGeneration.from_pretrained(vlmbook.checkpoint("llava")).eval()
vision = model.config.vision_config
grid_side = vision.image_size // vision.patch_size  # 8 patches per side
batch = ShapesWorld("test", max_objects=2, seed=0).batch(list(range(NUM_SCENES)))

with torch.no_grad():
    pixel_values = normalize_pixels(batch["pixel_values"])  # (B, 3, 64, 64)
    tower = model.model.vision_tower(pixel_values, output_hidden_states=True)
    projected = model.model.get_image_features(pixel_values=pixel_values).pooler_output
# hidden_states[0] is the embedding output: patch + position embeddings, after the pre-norm.
# The tower has two layers, and the projector reads both of them, concatenated.
stages = {
    "embeddings": tower.hidden_states[0],  # (B, 65, D_img)
    "layer 1": tower.hidden_states[1],  # (B, 65, D_img)
    "layer 2": tower.hidden_states[2],  # (B, 65, D_img)
    "projector": torch.stack(projected),  # (B, 65, D_txt): what the decoder reads
}

# One sample per object: the token of the patch under its center (token 0 is CLS).
scene_ids, token_ids, object_rows, object_columns = [], [], [], []
for scene_id, scene in enumerate(batch["scenes"]):
    for obj, (row, column) in zip(scene.objects, scene.cells):
        x, y = obj.center
        patch = int(y) // vision.patch_size * grid_side + int(x) // vision.patch_size
        scene_ids.append(scene_id)
        token_ids.append(1 + patch)
        object_rows.append(row)
        object_columns.append(column)
features = {name: hidden[scene_ids, token_ids] for name, hidden in stages.items()}  # (N, D)
targets = {"row": torch.tensor(object_rows), "column": torch.tensor(object_columns)}  # (N,), 0..2
# --8<-- [end:features]

# --8<-- [start:probe]
NUM_CLASSES = 3  # ShapesWorld's layout grid is 3x3


def probe_accuracy(x: torch.Tensor, y: torch.Tensor, fit_share: float = 0.8) -> float:
    """Fit a logistic regression on the first `fit_share` of (x, y); return its accuracy on the rest."""
    split = int(len(y) * fit_share)
    mean, std = x[:split].mean(0), x[:split].std(0) + 1e-6
    x = (x - mean) / std  # standardized with the fitting part's statistics
    weight = torch.zeros(x.shape[1], NUM_CLASSES, requires_grad=True)
    bias = torch.zeros(NUM_CLASSES, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200)

    def closure():
        optimizer.zero_grad()
        logits = x[:split] @ weight + bias  # (N_fit, 3)
        loss = torch.nn.functional.cross_entropy(logits, y[:split]) + 1e-3 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        predicted = (x[split:] @ weight + bias).argmax(1)
    return (predicted == y[split:]).float().mean().item()


accuracy = {
    (stage, target): probe_accuracy(features[stage], labels)
    for stage in stages
    for target, labels in targets.items()
}


def chance_accuracy(y: torch.Tensor, fit_share: float = 0.8) -> float:
    """Return the accuracy of always guessing the most common class, on the measured part."""
    measured = y[int(len(y) * fit_share):]
    return measured.bincount().max().item() / len(measured)


chance = {target: chance_accuracy(labels) for target, labels in targets.items()}
for stage in stages:
    print(f"{stage:<10} row {accuracy[stage, 'row']:.0%}  column {accuracy[stage, 'column']:.0%}")
print(f"{'chance':<10} row {chance['row']:.0%}  column {chance['column']:.0%}")
# --8<-- [end:probe]

# The page states that the embeddings carry the cell well above chance and that the
# projector output does not. If a retrained checkpoint changes that, the build fails here.
PAGE_PARAGRAPH = 'the "Where the position gets lost" paragraph of docs/llava.ko.md and docs/llava.en.md'
for target in targets:
    if accuracy["embeddings", target] < chance[target] + 0.2:
        raise RuntimeError(
            f"the embeddings' {target} probe accuracy {accuracy['embeddings', target]:.0%} is within 20 "
            f"points of chance ({chance[target]:.0%}), which contradicts {PAGE_PARAGRAPH}; update the text"
        )
    if accuracy["projector", target] > chance[target] + 0.1:
        raise RuntimeError(
            f"the projector's {target} probe accuracy {accuracy['projector', target]:.0%} is more than 10 "
            f"points above chance ({chance[target]:.0%}), which contradicts {PAGE_PARAGRAPH}; update the text"
        )

from vlmbook.book import markdown

STAGE_NAMES = {
    "ko": {"embeddings": "임베딩 (패치 + 위치 임베딩)", "layer 1": "비전 타워 1층",
           "layer 2": "비전 타워 2층", "projector": "프로젝터 출력 (디코더 입력)"},
    "en": {"embeddings": "embeddings (patch + position)", "layer 1": "vision tower, layer 1",
           "layer 2": "vision tower, layer 2", "projector": "projector output (decoder input)"},
}
HEADERS = {
    "ko": "| 단계 | 폭 | 행 정확도 | 열 정확도 |",
    "en": "| stage | width | row accuracy | column accuracy |",
}
CHANCE_NAMES = {"ko": "찍기 (가장 흔한 칸)", "en": "chance (most common cell)"}


@markdown("llava-position-probe-table")
def probe_table(lang: str) -> str:
    rows = [HEADERS[lang], "| --- | ---: | ---: | ---: |"]
    for stage, hidden in stages.items():
        rows.append(f"| {STAGE_NAMES[lang][stage]} | {hidden.shape[-1]} | "
                    f"{accuracy[stage, 'row']:.0%} | {accuracy[stage, 'column']:.0%} |")
    rows.append(f"| {CHANCE_NAMES[lang]} | | {chance['row']:.0%} | {chance['column']:.0%} |")
    return "\n".join(rows)


@markdown("llava-probe-objects")
def probe_objects(lang: str) -> str:
    return f"{len(object_rows):,}"


@markdown("llava-probe-scenes")
def probe_scenes(lang: str) -> str:
    return f"{NUM_SCENES:,}"
