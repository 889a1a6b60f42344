"""Generator: text-to-image search over an index of ShapesWorld scenes, with the embedded CLIP.

The index stores the unit-length image embeddings of a catalogue once. A
query costs one text embedding, one matrix product and a top-k. Every scene
carries its ground truth, so whether a result matches a query is certain, and
recall and precision are exact. The page embeds the `index`, `query`,
`evaluate` and `figure` sections.
"""

# --8<-- [start:index]
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import CLIPModel, CLIPProcessor

import vlmbook
from vlmbook.shapesworld import ShapesWorld

folder = vlmbook.checkpoint("clip")  # VLMBOOK_CHECKPOINTS=hub: "openai/clip-vit-base-patch32"
model = CLIPModel.from_pretrained(folder).eval()
processor = CLIPProcessor.from_pretrained(folder)

catalogue = ShapesWorld("test", min_objects=1, max_objects=2, seed=0)
scenes = [catalogue[i] for i in range(1000)]


@torch.no_grad()
def embed_images(images: list, batch_size: int = 250) -> torch.Tensor:
    """Embed images in batches as unit-length vectors (N, D)."""
    batches = []
    for start in range(0, len(images), batch_size):
        inputs = processor(images=images[start : start + batch_size], return_tensors="pt")
        batches.append(F.normalize(model.get_image_features(**inputs).pooler_output, dim=-1))
    return torch.cat(batches)


# Build the index once: embeddings and the id of the scene each row belongs to.
started = time.perf_counter()
image_embeds = embed_images([scene.image for scene in scenes])  # (1000, D)
index_seconds = time.perf_counter() - started
index_path = Path(tempfile.mkdtemp()) / "scenes.safetensors"
save_file({"image_embeds": image_embeds, "scene_ids": torch.arange(len(scenes))}, index_path)
# --8<-- [end:index]

# --8<-- [start:query]
index = load_file(index_path)  # a search service loads the index at start-up


@torch.no_grad()
def embed_queries(queries: list[str]) -> torch.Tensor:
    """Embed text queries as unit-length vectors (N_query, D)."""
    inputs = processor(text=queries, return_tensors="pt", padding=True)
    return F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)


def search(queries: list[str], k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the cosine similarities (N_query, k) and scene ids (N_query, k) of the top-k scenes."""
    scores = embed_queries(queries) @ index["image_embeds"].T  # (N_query, N_scene): cosine similarities
    top = scores.topk(k, dim=1)
    return top.values, index["scene_ids"][top.indices]


top_scores, top_ids = search(["a large red circle"])
for score, scene_id in zip(top_scores[0].tolist(), top_ids[0].tolist()):
    print(f"scene {scene_id:>3}  cosine {score:.3f}  {scenes[scene_id].captions[0]}")

# Latency of one query, split into its two steps: the same query timed 20 times, after the warm-up above.
encode_seconds, rank_seconds = [], []
for _ in range(20):
    started = time.perf_counter()
    query_embeds = embed_queries(["a small blue square"])  # (1, D)
    encoded = time.perf_counter()
    (query_embeds @ index["image_embeds"].T).topk(5, dim=1)
    encode_seconds.append(encoded - started)
    rank_seconds.append(time.perf_counter() - encoded)
encode_milliseconds = 1000 * statistics.median(encode_seconds)
rank_milliseconds = 1000 * statistics.median(rank_seconds)
# --8<-- [end:query]

# --8<-- [start:evaluate]
from vlmbook.evaluation import recall_at_k
from vlmbook.shapesworld import SEEN_PAIRS, SIZES


def contains(scene, size: str, color: str, shape: str) -> bool:
    """Return whether the scene contains an object of this size, color and shape (a query's ground truth)."""
    return any((obj.size, obj.color, obj.shape) == (size, color, shape) for obj in scene.objects)


# Query set 1: one object, "a {size} {color} {shape}", for every seen color-shape pair and size.
attributes = [(size, color, shape) for color, shape in SEEN_PAIRS for size in SIZES]
attribute_queries = [f"a {size} {color} {shape}" for size, color, shape in attributes]
attribute_match = torch.tensor([[contains(scene, *query) for scene in scenes] for query in attributes])

# Query set 2: the whole canonical caption of a two-object scene; a scene matches when its caption is the same.
captions = [scene.captions[0] for scene in scenes]
caption_queries = sorted({caption for scene, caption in zip(scenes, captions) if len(scene.objects) == 2})[:100]
caption_match = torch.tensor([[query == caption for caption in captions] for query in caption_queries])


def evaluate(queries: list[str], is_match: torch.Tensor) -> dict[str, float]:
    """Recall@k (a match among the top k) for k = 1, 5, 10, and precision@10 (matches among the top 10)."""
    scores = embed_queries(queries) @ index["image_embeds"].T  # (N_query, N_scene)
    top_10 = scores.topk(10, dim=1).indices
    metrics = {f"recall@{k}": recall_at_k(scores, is_match, k) for k in (1, 5, 10)}
    metrics["precision@10"] = is_match.gather(1, top_10).float().mean().item()
    metrics["matches per query"] = is_match.sum(dim=1).float().mean().item()
    return metrics


results = {
    "attributes": evaluate(attribute_queries, attribute_match),
    "captions": evaluate(caption_queries, caption_match),
}
for name, metrics in results.items():
    print(name, {metric: round(value, 3) for metric, value in metrics.items()})
# --8<-- [end:evaluate]

from vlmbook.book import check_claims

# The paragraph after the search table in docs/applications.ko.md and docs/applications.en.md
# states that whole captions are harder than one-object queries.
check_claims(
    "the paragraph after the search table of docs/applications.*.md",
    {"caption queries are harder than one-object queries": (
        results["captions"]["recall@1"] < results["attributes"]["recall@1"]
    )},
    f"recall@1: captions {results['captions']['recall@1']:.3f}, one object {results['attributes']['recall@1']:.3f}",
)

# --8<-- [start:figure]
import matplotlib.pyplot as plt

from vlmbook.book import figure, markdown

GRID_QUERIES = ["a large red circle", "a small blue square", "a large yellow triangle", caption_queries[0]]
GRID_ATTRIBUTES = [("large", "red", "circle"), ("small", "blue", "square"), ("large", "yellow", "triangle"), None]
LABELS = {"ko": {"query": "질의", "rank": "순위", "right": "맞음", "wrong": "틀림"},
          "en": {"query": "query", "rank": "rank", "right": "match", "wrong": "miss"}}


@figure("applications-search-grid")
def draw_search_grid(lang: str):
    columns = 6
    grid_scores, grid_ids = search(GRID_QUERIES, k=columns)
    fig, axes = plt.subplots(len(GRID_QUERIES), columns, figsize=(1.55 * columns, 2.0 * len(GRID_QUERIES)))
    for row, (query, wanted) in enumerate(zip(GRID_QUERIES, GRID_ATTRIBUTES)):
        for column in range(columns):
            ax = axes[row, column]
            scene = scenes[grid_ids[row, column].item()]
            right = contains(scene, *wanted) if wanted else scene.captions[0] == query
            ax.imshow(scene.image)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_edgecolor("#2e7d32" if right else "#c62828")
                spine.set_linewidth(4)
            mark = LABELS[lang]["right" if right else "wrong"]  # words as well as color, for color-blind readers
            ax.set_title(f"{LABELS[lang]['rank']} {column + 1}: {grid_scores[row, column]:.2f} ({mark})", fontsize=8)
        axes[row, 0].set_ylabel(f"{LABELS[lang]['query']} {row + 1}", fontsize=9)
    fig.tight_layout()
    return fig
# --8<-- [end:figure]


QUERY_SET_NAMES = {
    "ko": {"attributes": "물체 하나 (`a large red circle`)", "captions": "캡션 전체 (두 물체와 관계)"},
    "en": {"attributes": "one object (`a large red circle`)", "captions": "whole caption (two objects and a relation)"},
}
HEADERS = {
    "ko": "| 질의 집합 | 질의 수 | 질의당 정답 장면 | recall@1 | recall@5 | recall@10 | precision@10 |",
    "en": "| query set | queries | matching scenes per query | recall@1 | recall@5 | recall@10 | precision@10 |",
}


@markdown("applications-search-table")
def search_table(lang: str) -> str:
    counts = {"attributes": len(attribute_queries), "captions": len(caption_queries)}
    lines = [HEADERS[lang], "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, metrics in results.items():
        lines.append(
            f"| {QUERY_SET_NAMES[lang][name]} | {counts[name]} | {metrics['matches per query']:.2f} | "
            f"{metrics['recall@1']:.1%} | {metrics['recall@5']:.1%} | {metrics['recall@10']:.1%} | "
            f"{metrics['precision@10']:.1%} |"
        )
    return "\n".join(lines)


@markdown("applications-search-queries")
def grid_queries(lang: str) -> str:
    return "\n".join(f"{row + 1}. `{query}`" for row, query in enumerate(GRID_QUERIES))


@markdown("applications-search-index-seconds")
def index_time(lang: str) -> str:
    return f"{index_seconds:.1f}"


@markdown("applications-search-encode-milliseconds")
def encode_time(lang: str) -> str:
    return f"{encode_milliseconds:.1f}"


@markdown("applications-search-rank-milliseconds")
def rank_time(lang: str) -> str:
    return f"{rank_milliseconds:.2f}"


@markdown("applications-search-dimension")
def embedding_dimension(lang: str) -> str:
    return f"{image_embeds.shape[1]}"


@markdown("applications-search-attribute-precision")
def attribute_precision(lang: str) -> str:
    return f"{results['attributes']['precision@10']:.1%}"


@markdown("applications-search-caption-recall")
def caption_recall(lang: str) -> str:
    return f"{results['captions']['recall@1']:.1%}"


@markdown("applications-search-caption-matches")
def caption_matches(lang: str) -> str:
    return f"{results['captions']['matches per query']:.2f}"


@markdown("applications-search-caption-precision-bound")
def caption_precision_bound(lang: str) -> str:
    # precision@10 averages min(matches, 10) / 10 at best, so it cannot exceed the mean number of matches / 10.
    return f"{results['captions']['matches per query'] / 10:.1%}"
