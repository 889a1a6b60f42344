"""Tests of the metric functions and the hard negatives, on hand-checked cases."""

import math
import random

import pytest
import torch

from vlmbook.evaluation import (
    accuracy_by_kind,
    bleu4,
    caption_attribute_accuracy,
    caption_attributes,
    recall_at_k,
    roc_auc,
)
from vlmbook.recipes.negatives import hard_negative
from vlmbook.shapesworld import ShapesWorld


def test_bleu4_identical_captions_score_one():
    captions = ["a small red circle left of a large blue square", "a large green triangle"]
    assert bleu4(captions, [[c] for c in captions]) == pytest.approx(1.0)


def test_bleu4_matches_hand_computation():
    # Candidate "a red circle left of a blue square" against one reference
    # "a red circle left of a green square": 8 words each, so no brevity penalty.
    # Matches: 7/8 unigrams, 5/7 bigrams, 4/6 trigrams, 3/5 4-grams (all n-grams left of "blue").
    expected = math.exp((math.log(7 / 8) + math.log(5 / 7) + math.log(4 / 6) + math.log(3 / 5)) / 4)
    score = bleu4(["a red circle left of a blue square"], [["a red circle left of a green square"]])
    assert score == pytest.approx(expected)


def test_bleu4_brevity_penalty():
    # "a red circle" (3 words) against a 5-word reference: BP = exp(1 - 5/3); precisions are all 1.
    score = bleu4(["a red circle left of"], [["a red circle left of a blue square"]])
    assert score == pytest.approx(math.exp(1 - 8 / 5))


def test_bleu4_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 candidates but 1 reference"):
        bleu4(["a", "b"], [["a"]])


def test_roc_auc_perfect_reversed_and_tied():
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert roc_auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5


def test_roc_auc_counts_pairs():
    # Positives 0.9, 0.4; negatives 0.5, 0.1: 3 of 4 (positive, negative) pairs are ordered right.
    assert roc_auc([0.9, 0.4, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.75)


def test_roc_auc_needs_both_classes():
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        roc_auc([0.1, 0.2], [1, 1])


def test_recall_at_k_counts_duplicate_matches():
    similarity = torch.tensor([[0.1, 0.9, 0.5], [0.8, 0.1, 0.2], [0.3, 0.2, 0.1]])
    is_match = torch.tensor([[True, True, False], [False, True, False], [False, False, True]])
    # Query 0: top-1 is candidate 1, a duplicate match. Query 1: top-1 is 0 (wrong), top-2 has no 1 either.
    # Query 2: candidate 2 is ranked last.
    assert recall_at_k(similarity, is_match, 1) == pytest.approx(1 / 3)
    assert recall_at_k(similarity, is_match, 2) == pytest.approx(1 / 3)
    assert recall_at_k(similarity, is_match, 3) == pytest.approx(1.0)


def test_accuracy_by_kind():
    accuracy = accuracy_by_kind(["red", "two", "yes"], ["red", "one", "yes"], ["color", "count", "exists"])
    assert accuracy == {"all": pytest.approx(2 / 3), "color": 1.0, "count": 0.0, "exists": 1.0}


def test_caption_attributes_in_order():
    attributes = caption_attributes("a small red circle left of a large blue square")
    assert attributes == {"color": ["red", "blue"], "shape": ["circle", "square"], "relation": ["left"]}


def test_caption_attribute_accuracy_catches_swapped_binding():
    reference = "a small red circle left of a large blue square"
    swapped = "a small blue circle left of a large red square"
    accuracy = caption_attribute_accuracy([swapped], [reference])
    assert accuracy["color"] == 0.0
    assert accuracy["shape"] == 1.0
    assert accuracy["relation"] == 1.0
    assert accuracy["all"] == pytest.approx(2 / 3)


def test_hard_negatives_differ_in_one_attribute():
    world = ShapesWorld("test", max_objects=2, seed=0)
    for index in range(50):
        scene = world[index]
        negative = hard_negative(scene, random.Random(index))
        positive_words, negative_words = scene.captions[0].split(), negative.split()
        assert negative not in scene.captions
        assert len(negative_words) == len(positive_words)
        changed = sum(a != b for a, b in zip(positive_words, negative_words))
        assert changed in (1, 2), f"{scene.captions[0]!r} -> {negative!r}"
