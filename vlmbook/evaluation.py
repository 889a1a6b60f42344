"""Metrics for the ShapesWorld checkpoints, and `evaluate_checkpoint` for the CLI.

The metric functions are small and dependency-free on purpose, so the book
can show each one next to its definition:

- `recall_at_k`: retrieval recall@k with duplicate-aware matches.
- `bleu4`: corpus BLEU-4 (Papineni et al., 2002) with the brevity penalty.
- `roc_auc`: area under the ROC curve as the Mann-Whitney U statistic.
- `accuracy_by_kind`: exact-match accuracy per question kind.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import torch


def recall_at_k(similarity: torch.Tensor, is_match: torch.Tensor, k: int) -> float:
    """Fraction of queries with at least one match among their top-k candidates.

    similarity: (N_query, N_candidate) scores, higher is better.
    is_match: (N_query, N_candidate) bool; True where a candidate is a right
    answer. ShapesWorld repeats captions, so a query can have several.
    """
    k = min(k, similarity.shape[1])
    top_k = similarity.topk(k, dim=1).indices  # (N_query, k)
    hits = is_match.gather(1, top_k).any(dim=1)  # (N_query,)
    return hits.float().mean().item()


def _ngrams(words: list[str], n: int) -> Counter:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def bleu4(candidates: list[str], references: list[list[str]]) -> float:
    """Corpus BLEU-4 of generated captions against one or more references each.

    BLEU = BP * exp(mean over n = 1..4 of log p_n), where p_n is the clipped
    n-gram precision summed over the corpus, and the brevity penalty
    BP = exp(1 - r / c) when the candidates' total length c is below the
    closest reference lengths' total r. Captions are split on whitespace.
    NOTE: no smoothing, so a corpus without any matching 4-gram scores 0.
    """
    if len(candidates) != len(references):
        raise ValueError(f"got {len(candidates)} candidates but {len(references)} reference lists")
    matched = [0] * 4
    total = [0] * 4
    candidate_length, reference_length = 0, 0

    for candidate, refs in zip(candidates, references):
        words = candidate.split()
        ref_words = [ref.split() for ref in refs]
        candidate_length += len(words)
        reference_length += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]

        # Clipped counts: an n-gram scores at most as often as in the best reference.
        for n in range(1, 5):
            counts = _ngrams(words, n)
            max_ref_counts: Counter = Counter()
            for ref in ref_words:
                max_ref_counts |= _ngrams(ref, n)
            matched[n - 1] += sum(min(count, max_ref_counts[gram]) for gram, count in counts.items())
            total[n - 1] += max(len(words) - n + 1, 0)

    if candidate_length == 0 or min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / 4
    brevity_penalty = 1.0 if candidate_length > reference_length else math.exp(1 - reference_length / candidate_length)
    return brevity_penalty * math.exp(log_precision)


def roc_auc(scores: list[float], labels: list[int]) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count half."""
    positives = [s for s, y in zip(scores, labels) if y == 1]
    negatives = [s for s, y in zip(scores, labels) if y == 0]
    if not positives or not negatives:
        raise ValueError("roc_auc needs at least one positive and one negative example")
    # Rank-sum form of the Mann-Whitney U statistic, O(N log N).
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for position in range(i, j + 1):
            ranks[order[position]] = (i + j) / 2 + 1  # average rank of a tie group
        i = j + 1
    positive_rank_sum = sum(rank for rank, y in zip(ranks, labels) if y == 1)
    u = positive_rank_sum - len(positives) * (len(positives) + 1) / 2
    return u / (len(positives) * len(negatives))


def accuracy_by_kind(predictions: list[str], answers: list[str], kinds: list[str]) -> dict[str, float]:
    """Exact-match accuracy per question kind, plus "all" over every question."""
    correct: dict[str, list[bool]] = defaultdict(list)
    for prediction, answer, kind in zip(predictions, answers, kinds):
        hit = prediction.strip() == answer.strip()
        correct[kind].append(hit)
        correct["all"].append(hit)
    return {kind: sum(hits) / len(hits) for kind, hits in sorted(correct.items())}


def evaluate_checkpoint(name: str, folder: str | Path | None = None, num_scenes: int = 500, seed: int = 0) -> dict:
    """Load a checkpoint safely and evaluate it on the test split; return its metrics."""
    from vlmbook.checkpoints import checkpoint, load_checkpoint
    from vlmbook.recipes import get_recipe

    folder = Path(folder) if folder is not None else Path(checkpoint(name))
    model, processor = load_checkpoint(name, folder)
    recipe = get_recipe(name, seed=seed)
    return recipe.evaluate(model, processor, num_scenes=num_scenes)


def caption_attributes(caption: str) -> dict[str, list[str]]:
    """The color, shape and relation words of a caption, in the order they appear."""
    from vlmbook.recipes.negatives import OPPOSITE_RELATIONS
    from vlmbook.shapesworld import COLORS, SHAPES

    words = caption.replace("?", " ").replace(".", " ").replace(",", " ").split()
    return {
        "color": [word for word in words if word in COLORS],
        "shape": [word for word in words if word in SHAPES],
        "relation": [word for word in words if word in OPPOSITE_RELATIONS],
    }


def caption_attribute_accuracy(generated: list[str], references: list[str]) -> dict[str, float]:
    """Fraction of captions whose colors, shapes and relations match the reference, in order.

    Each attribute is one check per caption: the generated caption's color
    words must equal the reference's color words in the same order (so "a
    blue circle left of a red square" for "a red circle left of a blue
    square" fails), and likewise for shapes and relations; relation is only
    checked where the reference has one. "all" averages every check.
    """
    checks: dict[str, list[bool]] = defaultdict(list)
    for candidate, reference in zip(generated, references):
        found, expected = caption_attributes(candidate), caption_attributes(reference)
        for attribute in ("color", "shape", "relation"):
            if attribute == "relation" and not expected["relation"]:
                continue
            checks[attribute].append(found[attribute] == expected[attribute])
            checks["all"].append(found[attribute] == expected[attribute])
    return {attribute: sum(values) / len(values) for attribute, values in checks.items()}
