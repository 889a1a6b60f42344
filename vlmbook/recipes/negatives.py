"""Hard negative captions: the scene's own caption with one attribute swapped.

A hard negative differs from the truth in exactly one place, so a model can
reject it only by binding attributes to the right object, the skill that
contrastive models are known to lack (Yuksekgonul et al., 2023, "When and why
vision-language models behave like bags-of-words"). Worked sample::

    "a small red circle left of a large blue square"
      color   -> "a small green circle left of a large blue square"
      shape   -> "a small red triangle left of a large blue square"
      swap    -> "a small blue circle left of a large red square"
      relation-> "a small red circle right of a large blue square"
"""

from __future__ import annotations

import random

from vlmbook.shapesworld import COLORS, SHAPES

# Relation words and their opposites; a caption that uses one can flip it.
OPPOSITE_RELATIONS = {"left": "right", "right": "left", "above": "below", "below": "above"}


def _replace_one(words: list[str], choices: tuple[str, ...], rng: random.Random) -> list[str] | None:
    positions = [i for i, word in enumerate(words) if word in choices]
    if not positions:
        return None
    position = rng.choice(positions)
    new_words = list(words)
    new_words[position] = rng.choice([c for c in choices if c != words[position]])
    return new_words


def _swap_two(words: list[str], choices: tuple[str, ...]) -> list[str] | None:
    positions = [i for i, word in enumerate(words) if word in choices]
    if len(positions) < 2 or words[positions[0]] == words[positions[1]]:
        return None
    new_words = list(words)
    new_words[positions[0]], new_words[positions[1]] = words[positions[1]], words[positions[0]]
    return new_words


def _flip_relation(words: list[str]) -> list[str] | None:
    positions = [i for i, word in enumerate(words) if word in OPPOSITE_RELATIONS]
    if not positions:
        return None
    new_words = list(words)
    new_words[positions[0]] = OPPOSITE_RELATIONS[words[positions[0]]]
    return new_words


def hard_negative(scene, rng: random.Random) -> str:
    """Return the scene's canonical caption with one color, shape or relation changed.

    Tries the edits in a random order and returns the first that applies and
    yields a caption none of the scene's captions match.
    """
    words = scene.captions[0].split()
    edits = [
        lambda: _replace_one(words, COLORS, rng),
        lambda: _replace_one(words, SHAPES, rng),
        lambda: _swap_two(words, COLORS),
        lambda: _swap_two(words, SHAPES),
        lambda: _flip_relation(words),
    ]
    rng.shuffle(edits)
    for edit in edits:
        new_words = edit()
        if new_words is not None and " ".join(new_words) not in scene.captions:
            return " ".join(new_words)
    raise ValueError(f"no hard negative for caption {scene.captions[0]!r}: it names no color, shape or relation")
