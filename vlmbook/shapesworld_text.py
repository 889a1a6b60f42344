"""Captions, questions and the vocabulary of ShapesWorld scenes.

The text side of ShapesWorld (`vlmbook.shapesworld`): the attribute words,
the caption and question templates, and the word list that a word-level
tokenizer needs. Functions here see a scene as its objects plus the grid
cell (row, column) of each object in the 3x3 layout grid. Relations and
positions come from cells, not from pixel coordinates. Every object lies
inside its own cell, so "a left of b" in a caption means that a's whole
box ends before b's box begins.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple, Protocol

COLORS = ("red", "green", "blue", "yellow", "purple", "orange")
SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")

# Color-shape pairs that never appear in the train, val and test splits.
# Each color is held out at most once and each shape at most twice, so every
# color and every shape still appears in training with other partners.
HELDOUT_PAIRS = (("blue", "circle"), ("red", "square"), ("green", "triangle"), ("orange", "circle"))

COUNT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PLURALS = {shape: shape + "s" for shape in SHAPES}
QUESTION_KINDS = ("color", "shape", "count", "position", "exists")

Cell = tuple[int, int]  # (row, column) in the 3x3 layout grid, (0, 0) is top left


class QA(NamedTuple):
    """A question about a scene, its one-word answer and the question kind."""

    question: str
    answer: str
    kind: str  # one of QUESTION_KINDS


class ObjectLike(Protocol):
    shape: str
    color: str
    size: str


# --8<-- [start:captions]
def article(word: str) -> str:
    """Return "an" before a vowel ("an orange circle") and "a" otherwise."""
    return "an" if word[0] in "aeiou" else "a"


def describe(obj: ObjectLike, with_size: bool = True) -> str:
    """Name one object with its article: "a small red circle" or "an orange circle"."""
    words = f"{obj.size} {obj.color} {obj.shape}" if with_size else f"{obj.color} {obj.shape}"
    return f"{article(words)} {words}"


def canonical_order(cells: Sequence[Cell]) -> list[int]:
    """Sort object indices left to right, and top to bottom within a column."""
    return sorted(range(len(cells)), key=lambda i: (cells[i][1], cells[i][0]))


def canonical_caption(objects: Sequence[ObjectLike], cells: Sequence[Cell]) -> str:
    """Chain every object, with its size, from left to right.

    Consecutive objects sit in different columns ("left of") or in one
    column with the first one higher ("above"), so the caption pins down the
    size, color and shape of every object and a true relation between
    neighbours: "a small red circle left of a large blue square above ...".
    """
    order = canonical_order(cells)
    words = [describe(objects[order[0]])]
    for previous, current in zip(order, order[1:]):
        relation = "left of" if cells[previous][1] != cells[current][1] else "above"
        words.append(f"{relation} {describe(objects[current])}")
    return " ".join(words)


def position_phrase(cell: Cell) -> str:
    """Name a grid cell: "at the top left", "on the right", "in the center"."""
    row_word = ("top", "", "bottom")[cell[0]]
    column_word = ("left", "", "right")[cell[1]]
    if row_word:
        return " ".join(["at the", row_word, column_word]).strip()
    if column_word:
        return f"on the {column_word}"
    return "in the center"


def true_relations(cell_a: Cell, cell_b: Cell) -> list[str]:
    """List the relations that hold from object a to object b."""
    relations = []
    if cell_a[1] != cell_b[1]:
        relations.append("left of" if cell_a[1] < cell_b[1] else "right of")
    if cell_a[0] != cell_b[0]:
        relations.append("above" if cell_a[0] < cell_b[0] else "below")
    return relations


def make_captions(objects: Sequence[ObjectLike], cells: Sequence[Cell], rng: random.Random) -> tuple[str, ...]:
    """Write the captions of one scene; captions[0] is the canonical one."""
    count = len(objects)
    captions = [canonical_caption(objects, cells)]
    if count == 1:
        only = objects[0]
        captions += [describe(only, with_size=False), "one object",
                     f"{describe(only, with_size=False)} {position_phrase(cells[0])}"]
        return tuple(captions)

    # A list in random order, without sizes: "a red circle and a blue square".
    shuffled = rng.sample(range(count), count)
    captions.append(" and ".join(describe(objects[i], with_size=False) for i in shuffled))

    # Counts: "three objects", then per shape: "two circles and one square".
    captions.append(f"{COUNT_WORDS[count]} objects")
    shape_counts = [(sum(o.shape == shape for o in objects), shape) for shape in SHAPES]
    captions.append(" and ".join(
        f"{COUNT_WORDS[n]} {shape if n == 1 else PLURALS[shape]}" for n, shape in shape_counts if n > 0
    ))

    # One relation between a random pair: "a blue square right of a red circle".
    first, second = rng.sample(range(count), 2)
    relation = rng.choice(true_relations(cells[first], cells[second]))
    captions.append(f"{describe(objects[first], False)} {relation} {describe(objects[second], False)}")
    return tuple(captions)
# --8<-- [end:captions]


# Attribute sets that a referring phrase may use, shortest first, by the attribute it must not name.
REFERRING_ATTRIBUTES = {
    "color": (("shape",), ("size", "shape")),
    "shape": (("color",), ("size", "color")),
    "position": (("shape",), ("color", "shape"), ("size", "shape"), ("size", "color", "shape")),
}
SUPERLATIVES = (("leftmost", 1, -1), ("rightmost", 1, 1), ("topmost", 0, -1), ("bottommost", 0, 1))


def refer(target: int, objects: Sequence[ObjectLike], cells: Sequence[Cell], hide: str) -> str | None:
    """Build the shortest phrase that picks out objects[target] alone.

    `hide` is the attribute that the question is about ("color", "shape" or
    "position"), and the phrase never mentions it. Returns None when no phrase is unique,
    e.g. for two identical objects in a position question.
    """
    chosen = objects[target]
    look_alikes = []  # per attribute set: the cells of the other objects that share those attributes
    for attributes in REFERRING_ATTRIBUTES[hide]:
        values = [getattr(chosen, a) for a in attributes]
        others = [cells[i] for i, o in enumerate(objects)
                  if i != target and [getattr(o, a) for a in attributes] == values]
        noun = [] if "shape" in attributes else ["object"]
        if not others:
            return " ".join(["the", *values, *noun])
        look_alikes.append((values + noun, others))
    if hide == "position":
        return None

    # Fall back to a superlative among the look-alikes: "the leftmost circle".
    here = cells[target]
    for words, others in look_alikes:
        for superlative, axis, sign in SUPERLATIVES:
            if all(sign * (here[axis] - cell[axis]) > 0 for cell in others):
                return " ".join(["the", superlative, *words])
    return None


# --8<-- [start:questions]
def make_questions(
    objects: Sequence[ObjectLike],
    cells: Sequence[Cell],
    rng: random.Random,
    absent_candidates: Sequence[tuple[str, str]],
) -> tuple[QA, ...]:
    """Write one question of each kind that the scene allows, and two "exists" questions.

    Every scene gets a count question and one "yes" and one "no" exists
    question, so yes and no are balanced exactly. (A "no" question needs
    one pair of `absent_candidates` that the scene lacks, which the 14 seen
    pairs always leave for up to 9 objects.) Color, shape and position
    questions are left out when no object allows one: an unambiguous phrase
    is needed, and a position question also needs an object outside the
    middle row or column, or a second object.
    `absent_candidates` are the color-shape pairs that a "no" question may
    name. For train, val and test they leave out the held-out pairs.
    """
    count = len(objects)
    questions = []
    references: dict[tuple[int, str], str | None] = {}

    def reference(i: int, hide: str) -> str | None:
        if (i, hide) not in references:
            references[i, hide] = refer(i, objects, cells, hide)
        return references[i, hide]

    # Color and shape: the first object, in random order, that has an unambiguous phrase.
    for kind in ("color", "shape"):
        for i in rng.sample(range(count), count):
            if (ref := reference(i, kind)) is not None:
                answer = objects[i].color if kind == "color" else objects[i].shape
                questions.append(QA(f"what {kind} is {ref}?", answer, kind))
                break

    # Count: all objects, one shape or one color. Half of the shape and color
    # questions name a value that the scene has, so that "zero" stays a minority answer.
    form = rng.randrange(3)
    if form == 0:
        questions.append(QA("how many objects are there?", COUNT_WORDS[count], "count"))
    elif form == 1:
        shape = rng.choice([o.shape for o in objects] if rng.random() < 0.5 else SHAPES)
        n = sum(o.shape == shape for o in objects)
        questions.append(QA(f"how many {PLURALS[shape]} are there?", COUNT_WORDS[n], "count"))
    else:
        color = rng.choice([o.color for o in objects] if rng.random() < 0.5 else COLORS)
        n = sum(o.color == color for o in objects)
        questions.append(QA(f"how many {color} objects are there?", COUNT_WORDS[n], "count"))

    # Position: absolute (outer columns or rows) or relative to a second object.
    for i in rng.sample(range(count), count):
        if (ref := reference(i, "position")) is None:
            continue
        row, column = cells[i]
        options = []
        if column != 1:
            options.append(QA(f"is {ref} on the left or the right?", ("left", "", "right")[column], "position"))
        if row != 1:
            options.append(QA(f"is {ref} at the top or the bottom?", ("top", "", "bottom")[row], "position"))
        for j in range(count):
            if j == i or (other := reference(j, "position")) is None:
                continue
            if cells[i][1] != cells[j][1]:
                answer = "left" if cells[i][1] < cells[j][1] else "right"
                options.append(QA(f"is {ref} left or right of {other}?", answer, "position"))
            if cells[i][0] != cells[j][0]:
                answer = "above" if cells[i][0] < cells[j][0] else "below"
                options.append(QA(f"is {ref} above or below {other}?", answer, "position"))
        if options:
            questions.append(rng.choice(options))
            break

    # Exists: one present pair ("yes") and one absent pair ("no"), in random order.
    present = sorted({(o.color, o.shape) for o in objects})
    absent = [pair for pair in absent_candidates if pair not in present]
    color, shape = rng.choice(present)
    exists = [QA(f"is there {article(color)} {color} {shape}?", "yes", "exists")]
    if absent:
        color, shape = rng.choice(absent)
        exists.append(QA(f"is there {article(color)} {color} {shape}?", "no", "exists"))
    rng.shuffle(exists)
    return tuple(questions + exists)
# --8<-- [end:questions]


def vocabulary() -> list[str]:
    """List every word that a caption, question or answer can contain, sorted.

    Words are split at spaces, and "?" is a word of its own because
    questions end with it.
    """
    template_words = (
        "a an the and of left right above below at on in center top bottom object objects "
        "what color shape is how many are there or leftmost rightmost topmost bottommost "
        "yes no ?"
    ).split()
    words = set(template_words) | set(COLORS) | set(SHAPES) | set(SIZES) | set(COUNT_WORDS)
    words |= set(PLURALS.values())
    return sorted(words)


def swap_attribute(caption: str, attribute: str = "color") -> str:
    """Swap the first two different colors (or shapes, or sizes) of a caption.

    "a red circle and a blue square" -> "a blue circle and a red square".
    The swapped caption has the same words and different bindings, which is
    the hard negative that attribute-binding tests need.
    NOTE: the result can still be true, e.g. for a list caption of two
    circles ("a red circle and a blue circle"), so check it against the
    scene before using it as a negative.
    """
    values_by_attribute = {"color": COLORS, "shape": SHAPES, "size": SIZES}
    if attribute not in values_by_attribute:
        raise ValueError(f"unknown attribute {attribute!r}; expected one of {sorted(values_by_attribute)}")
    values = values_by_attribute[attribute]
    words = caption.split(" ")
    found = []
    for word in words:
        if word in values and word not in found:
            found.append(word)
    if len(found) < 2:
        raise ValueError(
            f"caption {caption!r} names fewer than two different {attribute}s, so there is nothing to swap"
        )
    first, second = found[:2]
    swapped = {first: second, second: first}
    words = [swapped.get(word, word) for word in words]
    # Swapping "red" and "orange" also swaps "a" and "an" in front of them.
    for i in range(len(words) - 1):
        if words[i] in ("a", "an"):
            words[i] = article(words[i + 1])
    return " ".join(words)


def flip_relation(caption: str) -> str:
    """Reverse the first relation of a caption: "left of" <-> "right of", "above" <-> "below".

    "a red circle left of a blue square" -> "a red circle right of a blue square",
    a hard negative for word order: the same objects with a reversed relation.
    NOTE: the result is still true when the two objects look alike ("a red
    circle left of a red circle"), so check it against the scene before
    using it as a negative.
    """
    opposites = {"left": "right", "right": "left", "above": "below", "below": "above"}
    words = caption.split(" ")
    for i, word in enumerate(words):
        is_relation = word in ("above", "below") or (word in ("left", "right") and words[i + 1:i + 2] == ["of"])
        if is_relation:
            return " ".join(words[:i] + [opposites[word]] + words[i + 1:])
    raise ValueError(f"caption {caption!r} states no relation (left of, right of, above, below) to flip")
