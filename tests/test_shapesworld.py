"""Tests of ShapesWorld: purity, splits, geometry, rendering, text and errors.

Ground truth in these tests comes from object centers and boxes, not from
the grid cells that the text generator reads, so a wrong cell computation
shows up as a false caption or answer.
"""

import doctest
import re
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vlmbook.shapesworld as shapesworld_module
from vlmbook.shapesworld import (
    COLORS,
    HELDOUT_PAIRS,
    MAX_OBJECTS,
    MIN_IMAGE_SIZE,
    QA,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
    ShapesWorld,
    flip_relation,
    swap_attribute,
)
from vlmbook.shapesworld_text import COUNT_WORDS, PLURALS, article

COLOR_RGB = shapesworld_module.COLOR_RGB
BACKGROUND_RGB = np.array(shapesworld_module.BACKGROUND_RGB, dtype=np.float32)
OBJECT_PATTERN = re.compile(r"\ban? (?:(small|large) )?(\w+) (\w+)")


@pytest.fixture(scope="module")
def train_scenes():
    world = ShapesWorld("train", seed=3, max_objects=4)
    return world.scenes(range(600))


def parse_objects(text):
    """Return (size or None, color, shape) for each "a/an [size] color shape" in text."""
    return [(size or None, color, shape) for size, color, shape in OBJECT_PATTERN.findall(text)]


def resolve(phrase, objects):
    """Return the objects that a referring phrase like "the leftmost small circle" picks out."""
    words = phrase.split()
    assert words[0] == "the", phrase
    words = words[1:]
    superlative = words.pop(0) if words[0].endswith("most") else None
    noun = words.pop()
    size = words.pop(0) if words and words[0] in SIZES else None
    color = words.pop(0) if words and words[0] in COLORS else None
    assert not words, f"unparsed words in {phrase!r}"
    matches = [o for o in objects
               if (noun == "object" or o.shape == noun)
               and (size is None or o.size == size) and (color is None or o.color == color)]
    if superlative is not None:
        # The leftmost one must lie entirely left of every look-alike, so that the image leaves no doubt.
        relation = {"leftmost": "left of", "rightmost": "right of", "topmost": "above", "bottommost": "below"}
        matches = [o for o in matches
                   if all(holds(relation[superlative], o, other) for other in matches if other is not o)]
    return matches


def holds(relation, a, b):
    """Check a spatial relation from box geometry: a is entirely left of / above b."""
    if relation == "left of":
        return a.box[2] <= b.box[0]
    if relation == "right of":
        return b.box[2] <= a.box[0]
    if relation == "above":
        return a.box[3] <= b.box[1]
    assert relation == "below", relation
    return b.box[3] <= a.box[1]


# --- purity -----------------------------------------------------------------

def test_same_index_same_scene():
    first, second = ShapesWorld("val", seed=7), ShapesWorld("val", seed=7)
    for index in (0, 1, 999):
        a, b = first[index], second[index]
        assert a.objects == b.objects
        assert np.array_equal(a.pixels, b.pixels)
        assert a.captions == b.captions
        assert a.questions == b.questions


def test_scene_independent_of_batch():
    world = ShapesWorld("train", seed=1)
    alone = world[42]
    in_batch = world.scenes([5, 42, 7])[1]
    assert alone == in_batch
    assert np.array_equal(world.images([42])[0], world.images([3, 42])[1])


def test_seeds_and_splits_differ():
    base = ShapesWorld("train", seed=0).images(range(20))
    other_seed = ShapesWorld("train", seed=1).images(range(20))
    other_split = ShapesWorld("test", seed=0).images(range(20))
    assert not any(np.array_equal(a, b) for a, b in zip(base, other_seed))
    assert not any(np.array_equal(a, b) for a, b in zip(base, other_split))


# --- splits -----------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_heldout_pairs_absent(split):
    world = ShapesWorld(split, max_objects=MAX_OBJECTS, num_scenes=3000)
    for scene in world.scenes(range(3000)):
        pairs = {obj.pair for obj in scene.objects}
        assert not pairs & set(HELDOUT_PAIRS), f"scene {scene.key} has held-out pair {pairs & set(HELDOUT_PAIRS)}"


def test_heldout_pairs_absent_from_train_text(train_scenes):
    for scene in train_scenes:
        text = " ".join(scene.captions + tuple(qa.question for qa in scene.questions))
        for color, shape in HELDOUT_PAIRS:
            assert f"{color} {shape}" not in text, text


def test_test_heldout_scenes_have_heldout_pair():
    world = ShapesWorld("test_heldout", max_objects=3)
    scenes = world.scenes(range(len(world)))
    for scene in scenes:
        assert any(obj.pair in HELDOUT_PAIRS for obj in scene.objects), scene.objects
    seen = Counter(obj.pair for scene in scenes for obj in scene.objects if obj.pair in HELDOUT_PAIRS)
    assert set(seen) == set(HELDOUT_PAIRS)


def test_heldout_pairs_leave_attributes_seen():
    seen = set(shapesworld_module.SEEN_PAIRS)
    assert 3 <= len(HELDOUT_PAIRS) <= 4
    assert {color for color, _ in seen} == set(COLORS)
    assert {shape for _, shape in seen} == set(SHAPES)


def test_train_covers_every_seen_pair(train_scenes):
    pairs = {obj.pair for scene in train_scenes for obj in scene.objects}
    assert pairs == set(shapesworld_module.SEEN_PAIRS)


def test_counts_cells_and_sizes_uniform():
    world = ShapesWorld("train", min_objects=1, max_objects=4, num_scenes=4000)
    scenes = world.scenes(range(4000))
    counts = Counter(len(scene.objects) for scene in scenes)
    cells = Counter(cell for scene in scenes for cell in scene.cells)
    sizes = Counter(obj.size for scene in scenes for obj in scene.objects)
    assert set(counts) == {1, 2, 3, 4}
    assert max(counts.values()) < 1.15 * min(counts.values()), counts
    assert len(cells) == 9
    assert max(cells.values()) < 1.15 * min(cells.values()), cells
    assert max(sizes.values()) < 1.1 * min(sizes.values()), sizes


# --- geometry, masks and rendering ---------------------------------------------

@settings(max_examples=40, deadline=None)
@given(image_size=st.integers(MIN_IMAGE_SIZE, 160), seed=st.integers(0, 2**32),
       max_objects=st.integers(1, MAX_OBJECTS), index=st.integers(0, 999))
def test_objects_inside_and_apart(image_size, seed, max_objects, index):
    world = ShapesWorld("train", image_size=image_size, max_objects=max_objects, seed=seed)
    scene = world[index]
    assert 1 <= len(scene.objects) <= max_objects
    for i, obj in enumerate(scene.objects):
        x0, y0, x1, y1 = obj.box
        assert 0 <= x0 < x1 <= image_size, obj
        assert 0 <= y0 < y1 <= image_size, obj
        for other in scene.objects[:i]:
            # The gap along the axis that separates the two boxes best.
            gap = max(other.box[0] - x1, x0 - other.box[2], other.box[1] - y1, y0 - other.box[3])
            assert gap >= 2, (obj, other)
    masks = scene.masks
    assert masks.shape == (len(scene.objects), image_size, image_size)
    assert all(mask.any() for mask in masks)


def test_large_objects_fit_cells_at_every_size():
    for image_size in range(MIN_IMAGE_SIZE, 513):
        cell, _ = shapesworld_module.grid_geometry(image_size)
        large = shapesworld_module.object_radius("large", image_size)
        small = shapesworld_module.object_radius("small", image_size)
        # A large box plus a 1 px gap on both sides fits the cell.
        assert 2 * large + 2 <= cell, f"a large object overflows its cell at image_size={image_size}"
        assert small < large, f"sizes look alike at image_size={image_size}"


def test_masks_inside_boxes(train_scenes):
    for scene in train_scenes[:200]:
        for obj, mask in zip(scene.objects, scene.masks):
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = obj.box
            assert x0 <= xs.min() and xs.max() < x1, obj
            assert y0 <= ys.min() and ys.max() < y1, obj
            if obj.shape in ("circle", "square"):
                assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == obj.box, obj
            else:
                # The triangle's base fills the bottom row of its box and its apex nears the top.
                assert ys.max() + 1 == y1, obj
                assert xs.max() + 1 - xs.min() >= x1 - x0 - 2, obj
                assert ys.min() <= y0 + 2, obj


def test_masks_agree_with_colors(train_scenes):
    for scene in train_scenes[:200]:
        pixels = scene.pixels.astype(np.float32)
        inside_any = scene.masks.any(axis=0)
        to_background = np.linalg.norm(pixels - BACKGROUND_RGB, axis=-1)
        assert np.all(to_background[~inside_any] < 0.5 * 255), "a pixel outside every mask is far from the background"
        for obj, mask in zip(scene.objects, scene.masks):
            to_color = np.linalg.norm(pixels - np.array(COLOR_RGB[obj.color], np.float32), axis=-1)
            assert np.all(to_color[mask] <= to_background[mask]), obj
            assert np.all(to_color[mask] < 0.5 * np.linalg.norm(COLOR_RGB[obj.color] - BACKGROUND_RGB))


def test_circle_edges_anti_aliased():
    scene = ShapesWorld("train").place([("circle", "blue", "large", "center")])
    pixels = scene.pixels.astype(np.float32)
    blue = np.array(COLOR_RGB["blue"], np.float32)
    # Position of each pixel on the segment from background (0) to blue (1), read from the red channel.
    mix = (pixels[..., 0] - BACKGROUND_RGB[0]) / (blue[0] - BACKGROUND_RGB[0])
    partial = (mix > 0.05) & (mix < 0.95)
    assert partial.sum() >= 16, f"only {partial.sum()} edge pixels are blends of background and object"
    # Every partial pixel lies on that segment in all three channels, within rounding.
    expected = BACKGROUND_RGB + mix[partial][:, None] * (blue - BACKGROUND_RGB)  # (N_edge, 3)
    assert np.abs(expected - pixels[partial]).max() <= 2.0


def test_textured_background_varies():
    world = ShapesWorld("train", textured=True)
    scene = world[0]
    background = scene.pixels[~scene.masks.any(axis=0)]
    assert background.std() > 2.0
    assert not np.array_equal(world.images([0]), ShapesWorld("train").images([0]))


def test_textured_objects_keep_colors():
    for scene in ShapesWorld("train", textured=True, max_objects=5).scenes(range(100)):
        pixels = scene.pixels.astype(np.float32)
        for obj, mask in zip(scene.objects, scene.masks):
            color = np.array(COLOR_RGB[obj.color], np.float32)
            # Pixels well inside the outline (2 px from any mask edge) are the pure object color.
            shrunk = mask.copy()
            for axis in (0, 1):
                for shift in (-2, 2):
                    shrunk &= np.roll(mask, shift, axis=axis)
            if obj.size == "large":
                assert shrunk.sum() >= 9, obj
            assert np.all(np.abs(pixels[shrunk] - color) <= 1.0), obj


def test_scene_arrays_read_only():
    scene = ShapesWorld("train")[0]
    with pytest.raises(ValueError, match="read-only"):
        scene.pixels[0, 0] = 0
    with pytest.raises(ValueError, match="read-only"):
        scene.masks[0, 0, 0] = True


@pytest.mark.parametrize("textured", [False, True])
def test_batch_render_equals_single(textured):
    world = ShapesWorld("train", seed=5, max_objects=MAX_OBJECTS, textured=textured)
    indices = list(range(48))
    images = world.images(indices)
    assert images.dtype == np.uint8
    assert images.shape == (48, 64, 64, 3)
    for index, image in zip(indices, images):
        assert np.array_equal(image, world[index].pixels), f"scene {index} differs between batch and single render"


def draw_every_object(layout, image_size):
    """Render a plain layout with the blending path alone, no stamps: the reference pixels."""
    canvas = shapesworld_module.render_background(layout.keys, image_size, textured=False)
    shapesworld_module.draw_objects(canvas, layout, image_size)
    return canvas


@pytest.mark.parametrize("image_size", [MIN_IMAGE_SIZE, 32, 63, 64, 96, 101, 160])
def test_stamped_scenes_equal_drawn_scenes(image_size):
    world = ShapesWorld("test_heldout", image_size=image_size, max_objects=MAX_OBJECTS, seed=image_size)
    layout = world.layout(range(300))
    # Sampled objects have integer centers and boxes inside their own cells, so all are stamped.
    assert shapesworld_module.stampable_scenes(layout, image_size).all()
    assert np.array_equal(world.images(range(300)), draw_every_object(layout, image_size))


def test_placed_scenes_stamped_only_when_exact():
    # A fractional center needs the blending path. Integer centers do not, even on a cell border.
    fractional = Scene.from_objects([("circle", "red", "large", (10.5, 10.25)), ("square", "blue", "small", "center")])
    cell, margin = shapesworld_module.grid_geometry(64)
    radius = shapesworld_module.object_radius("large", 64)
    touching = Scene.from_objects([
        ("square", "red", "large", (margin + cell - radius, margin + cell // 2)),  # right edge on the border
        ("triangle", "green", "large", (margin + cell + radius, margin + cell // 2)),  # left edge on it
    ])
    scenes = [fractional, touching]
    stampable = [bool(shapesworld_module.stampable_scenes(scene.layout, 64)[0]) for scene in scenes]
    assert stampable == [False, True]
    for scene in scenes:
        assert np.array_equal(scene.pixels, draw_every_object(scene.layout, 64)[0]), scene.objects


def test_batch_mixing_stamped_and_drawn_scenes():
    # Scenes 1 and 3 get fractional centers, so they are drawn between stamped neighbours.
    layout = ShapesWorld("train", max_objects=3, seed=2).layout(range(5))
    centers = layout.centers.copy()
    centers[[1, 3]] += np.float32(0.25)
    mixed = shapesworld_module.Layout(layout.counts, layout.shape_ids, layout.color_ids, layout.size_ids,
                                      centers, layout.keys)
    assert shapesworld_module.stampable_scenes(mixed, 64).tolist() == [True, False, True, False, True]
    assert np.array_equal(shapesworld_module.render_layout(mixed, 64), draw_every_object(mixed, 64))


def test_overlapping_objects_drawn_in_order():
    # Sampled and placed scenes never overlap, but render_layout takes any Layout: the later object must win.
    layout = shapesworld_module.Layout(
        counts=np.array([2]),
        shape_ids=np.array([[SHAPES.index("square"), SHAPES.index("circle")]]),
        color_ids=np.array([[COLORS.index("red"), COLORS.index("blue")]]),
        size_ids=np.array([[SIZES.index("small"), SIZES.index("small")]]),
        centers=np.array([[[27, 30], [33, 30]]], dtype=np.float32),  # both boxes inside the center cell
        keys=np.zeros(1, dtype=np.uint64),
    )
    assert not shapesworld_module.stampable_scenes(layout, 64).any()
    image = shapesworld_module.render_layout(layout, 64)
    assert np.array_equal(image, draw_every_object(layout, 64))
    assert np.array_equal(image[0, 30, 31], np.array(COLOR_RGB["blue"], dtype=np.uint8))


def test_stamps_show_their_objects():
    stamps = shapesworld_module.object_stamps(64)
    for size in SIZES:
        radius = shapesworld_module.object_radius(size, 64)
        assert stamps[size].shape == (len(SHAPES), len(COLORS), 2 * radius, 2 * radius, 3)
        # The pixel at the object's center has the object's color.
        center = stamps[size][:, :, radius, radius]  # (N_shape, N_color, 3)
        for color_id, color in enumerate(COLORS):
            assert (center[:, color_id] == np.array(COLOR_RGB[color], dtype=np.uint8)).all(), (size, color)


def test_empty_batch():
    world = ShapesWorld("val")
    assert world.images([]).shape == (0, 64, 64, 3)
    assert world.batch([])["pixel_values"].shape == (0, 3, 64, 64)
    assert world.batch([])["scenes"] == []


def test_batch_tensor():
    world = ShapesWorld("val", image_size=32)
    batch = world.batch([3, 1, 4])
    pixel_values = batch["pixel_values"]
    assert pixel_values.dtype == torch.float32
    assert pixel_values.shape == (3, 3, 32, 32)
    assert pixel_values.is_contiguous()
    assert pixel_values.min() >= 0.0
    assert pixel_values.max() <= 1.0
    expected = torch.from_numpy(world.images([3, 1, 4])).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(pixel_values, expected)
    assert [s.objects for s in batch["scenes"]] == [world[i].objects for i in (3, 1, 4)]
    assert batch["scenes"][0].image.size == (32, 32)
    assert batch["scenes"][0].image.mode == "RGB"


# --- captions ----------------------------------------------------------------

def assign_chain(descriptions, relations, objects, chain=()):
    """Return distinct objects matching `descriptions` in order with every relation true, or None."""
    if len(chain) == len(descriptions):
        return chain
    for obj in objects:
        if any(obj is used for used in chain):
            continue
        if f"{article(obj.size)} {obj.size} {obj.color} {obj.shape}" != descriptions[len(chain)]:
            continue
        if chain and not holds(relations[len(chain) - 1], chain[-1], obj):
            continue
        if (found := assign_chain(descriptions, relations, objects, chain + (obj,))) is not None:
            return found
    return None


def assert_captions_true(scene):
    objects = scene.objects
    canonical = scene.captions[0]
    expected = Counter((o.size, o.color, o.shape) for o in objects)
    assert Counter(parse_objects(canonical)) == expected, canonical

    # The canonical chain: some order of the objects matches it with every relation true.
    parts = re.split(r" (left of|above) ", canonical)
    descriptions, relations = parts[0::2], parts[1::2]
    assert assign_chain(descriptions, relations, objects) is not None, f"{canonical!r} is false for {objects}"

    if len(objects) == 1:
        assert scene.captions[2] == "one object"
        return
    _, listed, count, shape_counts, relation = scene.captions
    pairs = Counter((o.color, o.shape) for o in objects)
    assert Counter((c, s) for _, c, s in parse_objects(listed)) == pairs, listed
    assert count == f"{COUNT_WORDS[len(objects)]} objects"
    for part in shape_counts.split(" and "):
        n, noun = part.split()
        shape = noun if noun in SHAPES else noun[:-1]
        assert COUNT_WORDS.index(n) == sum(o.shape == shape for o in objects), shape_counts

    match = re.fullmatch(r"an? (\w+) (\w+) (left of|right of|above|below) an? (\w+) (\w+)", relation)
    assert match, relation
    color_a, shape_a, word, color_b, shape_b = match.groups()
    candidates_a = [o for o in objects if (o.color, o.shape) == (color_a, shape_a)]
    candidates_b = [o for o in objects if (o.color, o.shape) == (color_b, shape_b)]
    assert any(holds(word, a, b) for a in candidates_a for b in candidates_b if a is not b), relation


def test_captions_true(train_scenes):
    for scene in train_scenes:
        assert_captions_true(scene)


def test_canonical_caption_is_first_caption(train_scenes):
    for scene in train_scenes:
        assert scene.canonical_caption == scene.captions[0], scene.objects


def test_single_object_position_caption():
    world = ShapesWorld("train")
    scene = world.place([("triangle", "green", "small", "top left")])
    assert scene.captions == ("a small green triangle", "a green triangle", "one object",
                              "a green triangle at the top left")


# --- questions ---------------------------------------------------------------

def assert_answer_true(qa, scene):
    objects = scene.objects
    assert qa.question.endswith("?"), qa
    assert " " not in qa.answer, qa
    assert qa.answer == qa.answer.lower(), qa
    question = qa.question[:-1]
    if qa.kind in ("color", "shape"):
        phrase = re.fullmatch(r"what (?:color|shape) is (.+)", question).group(1)
        matches = resolve(phrase, objects)
        assert len(matches) == 1, f"{qa.question!r} is ambiguous in {objects}"
        assert qa.answer == getattr(matches[0], qa.kind)
    elif qa.kind == "count":
        noun = re.fullmatch(r"how many (.+) are there", question).group(1)
        if noun == "objects":
            expected = len(objects)
        elif noun.endswith(" objects"):
            expected = sum(o.color == noun.split()[0] for o in objects)
        else:
            expected = sum(PLURALS[o.shape] == noun for o in objects)
        assert qa.answer == COUNT_WORDS[expected], qa
    elif qa.kind == "position":
        assert_position_answer_true(qa, scene)
    else:
        assert qa.kind == "exists", qa
        color, shape = re.fullmatch(r"is there an? (\w+) (\w+)", question).groups()
        present = any((o.color, o.shape) == (color, shape) for o in objects)
        assert qa.answer == ("yes" if present else "no"), qa


def assert_position_answer_true(qa, scene):
    size = scene.image_size
    question = qa.question[:-1]
    if match := re.fullmatch(r"is (the .+) on the left or the right", question):
        (target,) = resolve(match.group(1), scene.objects)
        assert qa.answer == ("left" if target.center[0] < size / 3 else "right"), qa
        assert target.center[0] < size / 3 or target.center[0] > 2 * size / 3, qa
    elif match := re.fullmatch(r"is (the .+) at the top or the bottom", question):
        (target,) = resolve(match.group(1), scene.objects)
        assert qa.answer == ("top" if target.center[1] < size / 3 else "bottom"), qa
        assert target.center[1] < size / 3 or target.center[1] > 2 * size / 3, qa
    else:
        match = re.fullmatch(r"is (the .+) (left or right of|above or below) (the .+)", question)
        assert match, qa
        (target,) = resolve(match.group(1), scene.objects)
        (other,) = resolve(match.group(3), scene.objects)
        relation = {"left": "left of", "right": "right of"}.get(qa.answer, qa.answer)
        assert holds(relation, target, other), qa


def test_answers_match_ground_truth(train_scenes):
    kinds = Counter()
    for scene in train_scenes:
        for qa in scene.questions:
            kinds[qa.kind] += 1
            assert_answer_true(qa, scene)
    assert set(kinds) == {"color", "shape", "count", "position", "exists"}


@settings(max_examples=60, deadline=None)
@given(split=st.sampled_from(["train", "test_heldout"]), image_size=st.integers(MIN_IMAGE_SIZE, 128),
       seed=st.integers(0, 2**40), max_objects=st.integers(1, MAX_OBJECTS), index=st.integers(0, 999))
def test_text_true_for_any_world(split, image_size, seed, max_objects, index):
    scene = ShapesWorld(split, image_size=image_size, seed=seed, max_objects=max_objects)[index]
    assert_captions_true(scene)
    for qa in scene.questions:
        assert_answer_true(qa, scene)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(shapesworld_module.CELL_NAMES)), st.sampled_from(SHAPES),
                          st.sampled_from(COLORS), st.sampled_from(SIZES)),
                min_size=1, max_size=MAX_OBJECTS, unique_by=lambda spec: spec[0]))
def test_text_true_for_placed_scenes(specs):
    scene = Scene.from_objects([(shape, color, size, cell) for cell, shape, color, size in specs])
    assert_captions_true(scene)
    for qa in scene.questions:
        assert_answer_true(qa, scene)


def test_exists_yes_no_balanced(train_scenes):
    answers = Counter(qa.answer for scene in train_scenes for qa in scene.questions if qa.kind == "exists")
    total = answers["yes"] + answers["no"]
    assert set(answers) == {"yes", "no"}
    assert abs(answers["yes"] / total - 0.5) < 0.02, answers


def test_count_answers_not_mostly_zero(train_scenes):
    answers = Counter(qa.answer for scene in train_scenes for qa in scene.questions if qa.kind == "count")
    assert answers["zero"] < 0.35 * sum(answers.values()), answers
    assert {"zero", "one", "two", "three"} <= set(answers), answers


def test_every_scene_has_count_and_exists(train_scenes):
    for scene in train_scenes:
        kinds = [qa.kind for qa in scene.questions]
        assert kinds.count("count") == 1, scene.questions
        assert kinds.count("exists") == 2, scene.questions
        assert all(isinstance(qa, QA) for qa in scene.questions)


def test_heldout_questions_can_name_heldout_pairs():
    world = ShapesWorld("test_heldout")
    named = {tuple(re.fullmatch(r"is there an? (\w+) (\w+)\?", qa.question).groups())
             for scene in world.scenes(range(500)) for qa in scene.questions if qa.kind == "exists"}
    assert set(HELDOUT_PAIRS) <= named


# --- vocabulary and helpers ------------------------------------------------------

def test_vocabulary_covers_all_text():
    vocabulary = set(ShapesWorld.vocabulary())
    for split in ("train", "test_heldout"):
        world = ShapesWorld(split, max_objects=MAX_OBJECTS, seed=11)
        for scene in world.scenes(range(400)):
            texts = scene.captions + tuple(qa.question + " " + qa.answer for qa in scene.questions)
            for text in texts:
                words = text.replace("?", " ?").split()
                assert set(words) <= vocabulary, f"{set(words) - vocabulary} missing, from {text!r}"


def test_vocabulary_sorted_and_unique():
    vocabulary = ShapesWorld.vocabulary()
    assert vocabulary == sorted(set(vocabulary))
    assert set(COLORS) | set(SHAPES) | set(SIZES) | {"?", "yes", "no", "zero", "nine"} <= set(vocabulary)


def test_swap_attribute():
    assert swap_attribute("a red circle and a blue square") == "a blue circle and a red square"
    assert swap_attribute("a red circle and a blue square", "shape") == "a red square and a blue circle"
    assert swap_attribute("a small red circle left of a large red square", "size") == \
        "a large red circle left of a small red square"
    assert swap_attribute("a red circle and an orange square") == "an orange circle and a red square"
    with pytest.raises(ValueError, match="fewer than two different colors"):
        swap_attribute("a red circle and a red square")
    with pytest.raises(ValueError, match="unknown attribute 'texture'"):
        swap_attribute("a red circle", "texture")


def test_flip_relation():
    assert flip_relation("a red circle left of a blue square") == "a red circle right of a blue square"
    assert flip_relation("a small red circle above a large blue square left of a small green triangle") == \
        "a small red circle below a large blue square left of a small green triangle"
    with pytest.raises(ValueError, match="states no relation"):
        flip_relation("a red circle on the left")


def test_flipped_canonical_caption_false(train_scenes):
    false_count = total = 0
    for scene in train_scenes:
        if len(scene.objects) < 2:
            continue
        flipped = flip_relation(scene.captions[0])
        parts = re.split(r" (left of|right of|above|below) ", flipped)
        descriptions, relations = parts[0::2], parts[1::2]
        is_false = assign_chain(descriptions, relations, scene.objects) is None
        # With distinct descriptions the chain names each object once, so the flip must be false.
        if len(set(descriptions)) == len(descriptions):
            assert is_false, f"{flipped!r} is true for {scene.objects}"
        false_count += is_false
        total += 1
    assert false_count >= 0.95 * total, f"only {false_count} of {total} flipped captions are false"


def test_place_corner_object():
    world = ShapesWorld("train", image_size=64)
    scene = world.place([("square", "red", "large", "bottom right")])
    (obj,) = scene.objects
    ys, xs = np.nonzero(scene.masks[0])
    assert xs.min() > 2 * 64 / 3
    assert ys.min() > 2 * 64 / 3
    red = np.array(COLOR_RGB["red"])
    assert np.array_equal(scene.pixels[ys[0], xs[0]], red)
    assert np.array_equal(scene.pixels[5, 5], BACKGROUND_RGB.astype(np.uint8))
    assert scene.captions[0] == "a large red square"


def test_place_pixel_centers():
    scene = Scene.from_objects([("circle", "red", "small", (10, 10)), ("circle", "blue", "small", (50, 10))])
    assert scene.objects[0].center == (10.0, 10.0)
    assert scene.captions[0] == "a small red circle left of a small blue circle"
    assert scene.masks[0][10, 10]
    assert scene.masks[1][10, 50]


def test_module_docstring_example():
    result = doctest.testmod(shapesworld_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- bad input -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "training"}, r"unknown split 'training'; valid splits are train, val, test, test_heldout"),
        ({"image_size": 16}, r"image_size=16 is too small to draw on; use an integer >= 24"),
        ({"max_objects": 10}, r"max_objects=10 is too many: the 3x3 grid has room for at most 9 objects"),
        ({"min_objects": 0}, r"invalid object counts min_objects=0, max_objects=3; need 1 <= min_objects"),
        ({"min_objects": 4, "max_objects": 3}, r"min_objects=4, max_objects=3"),
        ({"seed": -1}, r"seed=-1 is invalid; use an integer in \[0, 2\*\*64\)"),
    ],
)
def test_bad_world_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapesWorld(**kwargs)


def test_largest_seed_works():
    scene = ShapesWorld("train", seed=2**64 - 1)[0]
    assert 1 <= len(scene.objects) <= 3


def test_index_out_of_range():
    world = ShapesWorld("val")
    with pytest.raises(IndexError, match=r"scene index 2000 is out of range .* valid indices are 0 to 1999"):
        world[2000]
    with pytest.raises(IndexError, match="scene index -1"):
        world.images([0, -1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (("hexagon", "red", "small", "center"), r"unknown shape 'hexagon'; valid shapes are circle, square, triangle"),
        (("circle", "pink", "small", "center"), r"unknown color 'pink'; valid colors are red, green"),
        (("circle", "red", "huge", "center"), r"unknown size 'huge'; valid sizes are small, large"),
        (("circle", "red", "small", "middle"), r"unknown position 'middle'; valid positions are top left"),
        (("circle", "red", "large", (2, 30)), r"crosses the border of its grid cell \(row 1, column 0\)"),
        (("circle", "red", "large", (20, 30)), r"spanning x 0\.\.21 and y 21\.\.42; move its center"),
    ],
)
def test_bad_placed_object(spec, message):
    with pytest.raises(ValueError, match=message):
        ShapesWorld("train").place([spec])


def test_placed_object_box_must_match():
    wrong = SceneObject("circle", "red", "small", (10.0, 10.0), (0.0, 0.0, 20.0, 20.0))
    with pytest.raises(ValueError, match=r"object 0 has box .* build objects with make_object"):
        Scene.from_objects([wrong])


def test_bad_num_scenes():
    with pytest.raises(ValueError, match=r"num_scenes=0 is invalid; use a positive integer"):
        ShapesWorld("val", num_scenes=0)
    assert len(ShapesWorld("val", num_scenes=5)) == 5
    assert len(list(ShapesWorld("val", num_scenes=5))) == 5


def test_placed_objects_must_use_separate_cells():
    with pytest.raises(ValueError, match=r"objects 0 and 1 share grid cell"):
        Scene.from_objects([("circle", "red", "small", (7, 7)), ("circle", "blue", "small", (14, 14))])
    with pytest.raises(ValueError, match=r"a scene needs 1 to 9 objects"):
        Scene.from_objects([])


def test_scene_object_fields():
    obj = ShapesWorld("train")[0].objects[0]
    assert isinstance(obj, SceneObject)
    assert obj.shape in SHAPES
    assert obj.color in COLORS
    assert obj.size in SIZES
    assert obj.box == (obj.center[0] - (obj.box[2] - obj.box[0]) / 2, obj.center[1] - (obj.box[3] - obj.box[1]) / 2,
                       obj.center[0] + (obj.box[2] - obj.box[0]) / 2, obj.center[1] + (obj.box[3] - obj.box[1]) / 2)
