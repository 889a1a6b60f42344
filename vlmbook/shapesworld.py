"""ShapesWorld: synthetic scenes of colored shapes with captions and questions.

A scene contains one to nine objects on a plain (or, with `textured=True`,
softly textured) background. Each object has a shape, a color, a size and
a position, and sits alone in one cell of a 3x3 layout grid, so objects
never overlap and every relation the text states is clear in the image.
Every scene carries its ground truth: boxes, masks, captions from several
templates and question-answer pairs with one-word answers. Scene i of a
split is a pure function of (seed, split, i).

The splits "train", "val" and "test" share the color-shape pairs of
SEEN_PAIRS. The pairs in HELDOUT_PAIRS appear only in "test_heldout", where
every scene has at least one of them, to measure zero-shot generalization.
`swap_attribute` and `flip_relation` turn a caption into hard negatives for
attribute binding and word order.

A worked sample (this output is checked by a doctest):

>>> world = ShapesWorld(split="train", image_size=64, seed=0)
>>> scene = world[0]
>>> for obj in scene.objects:
...     print(obj)
SceneObject(shape='triangle', color='yellow', size='large', center=(12.0, 32.0), box=(4.0, 24.0, 20.0, 40.0))
SceneObject(shape='triangle', color='yellow', size='small', center=(36.0, 48.0), box=(31.0, 43.0, 41.0, 53.0))
SceneObject(shape='circle', color='red', size='small', center=(11.0, 50.0), box=(6.0, 45.0, 16.0, 55.0))
>>> for caption in scene.captions:
...     print(caption)
a large yellow triangle above a small red circle left of a small yellow triangle
a yellow triangle and a yellow triangle and a red circle
three objects
one circle and two triangles
a yellow triangle above a red circle
>>> for qa in scene.questions:
...     print(f"{qa.kind:>8}: {qa.question} {qa.answer}")
   color: what color is the large triangle? yellow
   shape: what shape is the small yellow object? triangle
   count: how many red objects are there? one
position: is the large triangle above or below the circle? above
  exists: is there a yellow triangle? yes
  exists: is there a purple square? no
>>> scene.image.size, scene.masks.shape
((64, 64), (3, 64, 64))
>>> world.batch([0, 1, 2])["pixel_values"].shape
torch.Size([3, 3, 64, 64])
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from PIL import Image

from vlmbook.shapesworld_text import (
    COLORS,
    HELDOUT_PAIRS,
    QA,
    SHAPES,
    SIZES,
    canonical_caption,
    flip_relation,
    make_captions,
    make_questions,
    swap_attribute,
    vocabulary,
)

__all__ = [
    "COLORS", "SHAPES", "SIZES", "HELDOUT_PAIRS", "SPLITS", "QA", "SceneObject", "Scene", "ShapesWorld",
    "MIN_IMAGE_SIZE", "MAX_OBJECTS", "swap_attribute", "flip_relation",
]

# Shape legend: B scenes in a batch, K object slots per scene, S image size
# in pixels, P side of the square patch that one object is drawn in.

COLOR_RGB = {
    "red": (220, 50, 47), "green": (50, 165, 70), "blue": (40, 90, 220),
    "yellow": (240, 200, 30), "purple": (140, 70, 180), "orange": (245, 130, 30),
}
BACKGROUND_RGB = (235, 235, 235)
SPLITS = ("train", "val", "test", "test_heldout")
# NOTE: the splits share no scene key, but small scenes recur across splits because
# few exist: at 64x64 there are about 15,000 distinct one-object scenes.
SPLIT_SIZES = {"train": 100_000, "val": 2_000, "test": 2_000, "test_heldout": 2_000}
GRID = 3  # objects sit in distinct cells of a GRID x GRID layout grid
MAX_OBJECTS = GRID * GRID
# Scenes drawn per vectorized step, so that the float32 temporaries of one step
# (about 1 MB at 64x64) stay in the CPU cache.
RENDER_CHUNK = 256
MIN_IMAGE_SIZE = 24  # the smallest size whose grid cell fits a large object and a 1 px gap
CELL_NAMES = {
    "top left": (0, 0), "top": (0, 1), "top right": (0, 2),
    "left": (1, 0), "center": (1, 1), "right": (1, 2),
    "bottom left": (2, 0), "bottom": (2, 1), "bottom right": (2, 2),
}
ALL_PAIRS = tuple((color, shape) for color in COLORS for shape in SHAPES)
SEEN_PAIRS = tuple(pair for pair in ALL_PAIRS if pair not in HELDOUT_PAIRS)


def object_radius(size: str, image_size: int) -> int:
    """Return half the side of an object's box in pixels: about 8% (small) or 12.5% (large) of the image.

    The large radius is capped so that a large box stays at least 1 px
    inside every side of its grid cell.
    """
    if size == "small":
        return max(2, round(0.08 * image_size))
    cell_limit = (image_size // GRID - 2) // 2
    return max(3, min(round(0.125 * image_size), cell_limit))


def grid_geometry(image_size: int) -> tuple[int, int]:
    """Return the side of one grid cell and the margin before the first cell, in pixels."""
    cell = image_size // GRID
    return cell, (image_size - GRID * cell) // 2


@dataclass(frozen=True)
class SceneObject:
    """One shape in a scene, placed in pixel coordinates.

    (0, 0) is the top-left corner of the top-left pixel, so pixel (row y,
    column x) covers [x, x+1) x [y, y+1) and its center is (x + 0.5, y + 0.5).
    """

    shape: str
    color: str
    size: str
    center: tuple[float, float]  # (x, y) in pixels
    box: tuple[float, float, float, float]  # (x0, y0, x1, y1) in pixels, x1 and y1 exclusive

    @property
    def pair(self) -> tuple[str, str]:
        """The (color, shape) pair, the unit that the splits hold out."""
        return (self.color, self.shape)


# --8<-- [start:sdf]
def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Signed distance in pixels from pixel centers to a shape's outline, negative inside.

    dx and dy are the offsets of pixel centers from the object center, and
    radius is half the side of the object's box. All three broadcast. The
    square and the triangle take the max over their edge lines, which is
    exact along edges and only rounds the field near corners.
    """
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - radius
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - radius
    # Triangle: apex at (0, -r), base corners at (+-r, r); the slanted edges have normals (+-2, -1) / sqrt(5).
    return np.maximum(dy - radius, (2 * np.abs(dx) - dy - radius) * np.float32(1 / np.sqrt(5)))
# --8<-- [end:sdf]


def coverage(distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage: 1 inside, 0 outside, a linear ramp 1 px wide across the edge."""
    return np.clip(np.float32(0.5) - distance, 0.0, 1.0)


@dataclass(frozen=True)
class Layout:
    """Objects of B scenes as arrays, the input of the vectorized renderer."""

    counts: np.ndarray  # (B,) int, objects per scene
    shape_ids: np.ndarray  # (B, K) int, index into SHAPES
    color_ids: np.ndarray  # (B, K) int, index into COLORS
    size_ids: np.ndarray  # (B, K) int, index into SIZES
    centers: np.ndarray  # (B, K, 2) float32, (x, y) pixels
    keys: np.ndarray  # (B,) uint64, per-scene key for the texture and the text

    def select(self, start: int, stop: int) -> Layout:
        """Return scenes start to stop - 1 as a Layout of views."""
        return Layout(*(getattr(self, f.name)[start:stop] for f in fields(self)))

    def take(self, indices: np.ndarray) -> Layout:
        """Return the scenes at `indices` as a new Layout (copies)."""
        return Layout(*(getattr(self, f.name)[indices] for f in fields(self)))


def hash64(x: np.ndarray) -> np.ndarray:
    """Mix 64-bit integers into well-spread 64-bit integers (the SplitMix64 finalizer)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniforms(keys: np.ndarray, count: int) -> np.ndarray:
    """Draw `count` uniforms in [0, 1) per key, counter-based: draw j is hash(key, j)."""
    counters = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
    bits = hash64(keys[:, None] ^ counters)  # (B, count)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


# --8<-- [start:sample]
def sample_layout(seed: int, split: str, indices: np.ndarray, image_size: int, min_objects: int,
                  max_objects: int) -> Layout:
    """Sample the objects of many scenes at once; scene i depends on (seed, split, i) alone."""
    split_id = np.uint64(SPLITS.index(split))
    keys = hash64(hash64(hash64(np.full(len(indices), seed, dtype=np.uint64)) ^ split_id) ^ indices.astype(np.uint64))
    draws = uniforms(keys, 1 + MAX_OBJECTS + 4 * MAX_OBJECTS)  # (B, 46), a fixed budget per scene
    counts = min_objects + (draws[:, 0] * (max_objects - min_objects + 1)).astype(np.int64)

    # Distinct grid cells: a random permutation of the cells, first K taken.
    cells = np.argsort(draws[:, 1:1 + MAX_OBJECTS], axis=1)[:, :max_objects]  # (B, K)
    rows, columns = cells // GRID, cells % GRID
    slot = draws[:, 1 + MAX_OBJECTS:].reshape(-1, MAX_OBJECTS, 4)[:, :max_objects]  # (B, K, 4)

    # Color-shape pairs: held-out pairs only in test_heldout, where slot 0 always gets one.
    pair_table = np.array([(COLORS.index(c), SHAPES.index(s)) for c, s in SEEN_PAIRS + HELDOUT_PAIRS])
    if split == "test_heldout":
        first = len(SEEN_PAIRS) + (slot[:, :1, 0] * len(HELDOUT_PAIRS)).astype(np.int64)
        rest = (slot[:, 1:, 0] * len(ALL_PAIRS)).astype(np.int64)
        pair_ids = np.concatenate([first, rest], axis=1)
    else:
        pair_ids = (slot[:, :, 0] * len(SEEN_PAIRS)).astype(np.int64)
    color_ids, shape_ids = pair_table[pair_ids, 0], pair_table[pair_ids, 1]

    # Size, then an integer center that keeps the box 1 px inside its cell.
    size_ids = (slot[:, :, 1] * len(SIZES)).astype(np.int64)
    radius = np.where(size_ids == 0, object_radius("small", image_size), object_radius("large", image_size))
    cell, margin = grid_geometry(image_size)
    free = cell - 2 * radius - 1  # number of integer center positions per axis, >= 1
    center_x = margin + columns * cell + radius + 1 + (slot[:, :, 2] * free).astype(np.int64)
    center_y = margin + rows * cell + radius + 1 + (slot[:, :, 3] * free).astype(np.int64)
    centers = np.stack([center_x, center_y], axis=-1).astype(np.float32)  # (B, K, 2)
    return Layout(counts, shape_ids, color_ids, size_ids, centers, keys)
# --8<-- [end:sample]


def render_background(keys: np.ndarray, image_size: int, textured: bool) -> np.ndarray:
    """Paint B backgrounds: plain gray, or a soft random gradient with faint noise."""
    # Copying a broadcast image is about 20x faster than assigning one RGB triple (numpy 2.4).
    plain = np.tile(np.array(BACKGROUND_RGB, dtype=np.uint8), (image_size, image_size, 1))  # (S, S, 3)
    canvas = np.broadcast_to(plain, (len(keys), image_size, image_size, 3)).copy()  # (B, S, S, 3)
    if not textured:
        return canvas
    angle = uniforms(keys ^ np.uint64(0x7E7), 1)[:, 0] * 2 * np.pi  # (B,)
    ramp = np.linspace(-1.0, 1.0, image_size, dtype=np.float32)
    gradient = (np.cos(angle)[:, None, None] * ramp[None, None, :]
                + np.sin(angle)[:, None, None] * ramp[None, :, None])  # (B, S, S)
    pixel_ids = np.arange(image_size * image_size, dtype=np.uint64).reshape(1, image_size, image_size)
    noise = (hash64(keys[:, None, None] ^ (pixel_ids + np.uint64(1 << 40))) >> np.uint64(56)).astype(np.float32)
    shade = 18 * gradient + (noise / 255 - 0.5) * 12  # (B, S, S), at most +-32 gray levels
    return np.clip(canvas + shade[..., None], 0, 255).astype(np.uint8)


# --8<-- [start:render]
def render_layout(layout: Layout, image_size: int, textured: bool = False) -> np.ndarray:
    """Render B scenes at once into uint8 images (B, S, S, 3).

    On a plain background, scenes whose objects can be stamped (see
    `stampable_scenes`) get each object as a copy of its prerendered box.
    The other scenes, and every textured scene, are drawn by `draw_objects`.
    Both give the same pixels.
    """
    canvas = render_background(layout.keys, image_size, textured)  # (B, S, S, 3)
    stamped = np.zeros(len(canvas), dtype=bool) if textured else stampable_scenes(layout, image_size)  # (B,)
    if stamped.any():
        stamp_objects(canvas, layout, image_size, stamped)
    drawn = np.flatnonzero(~stamped)
    for start in range(0, len(drawn), RENDER_CHUNK):
        chunk = drawn[start:start + RENDER_CHUNK]
        if chunk[-1] - chunk[0] + 1 == len(chunk):  # consecutive scenes: draw into a view
            first, stop = chunk[0], chunk[-1] + 1
            draw_objects(canvas[first:stop], layout.select(first, stop), image_size)
        else:
            part = canvas[chunk]
            draw_objects(part, layout.take(chunk), image_size)
            canvas[chunk] = part
    return canvas


def draw_objects(canvas: np.ndarray, layout: Layout, image_size: int) -> None:
    """Draw the objects of B scenes onto their backgrounds, in place.

    For each object size and slot, the objects of all scenes in that slot
    are drawn in one vectorized step. Each object's signed distance is
    evaluated on a P x P patch of pixels around its box, not on the whole
    image, and its color is blended over the canvas with the anti-aliased
    coverage. Steps run one after another, so overlapping patches compose
    correctly.
    """
    palette = np.array([COLOR_RGB[c] for c in COLORS], dtype=np.float32)  # (6, 3)
    for size_id, size in enumerate(SIZES):
        radius = np.float32(object_radius(size, image_size))
        patch = 2 * int(radius) + 3  # P: the box, a 1 px ring for the edge ramp, 1 px for fractional centers
        # Every P x P window of the canvas, as a writeable view: (B, S-P+1, S-P+1, 3, P, P).
        windows = np.lib.stride_tricks.sliding_window_view(canvas, (patch, patch), axis=(1, 2), writeable=True)
        offsets = np.arange(patch, dtype=np.float32) + 0.5  # pixel centers within a patch

        for k in range(layout.shape_ids.shape[1]):
            # (B_k,) scenes whose object in slot k has this size
            scene_ids = np.flatnonzero((layout.counts > k) & (layout.size_ids[:, k] == size_id))
            if len(scene_ids) == 0:
                continue
            center = layout.centers[scene_ids, k]  # (B_k, 2)

            # Patch origin: one pixel above and left of the box, moved inside the image where needed.
            origin = np.floor(center - radius).astype(np.int64) - 1
            origin = np.clip(origin, 0, image_size - patch)  # (B_k, 2)

            # Signed distance from each patch pixel center to the object outline.
            corner = origin.astype(np.float32) - center  # (B_k, 2), patch corner relative to the center
            dx = (corner[:, 0, None] + offsets)[:, None, :]  # (B_k, 1, P)
            dy = (corner[:, 1, None] + offsets)[:, :, None]  # (B_k, P, 1)
            alpha = np.empty((len(scene_ids), patch, patch), dtype=np.float32)  # (B_k, P, P)
            shape_ids = layout.shape_ids[scene_ids, k]
            for shape_id, shape in enumerate(SHAPES):
                chosen = shape_ids == shape_id
                alpha[chosen] = coverage(signed_distance(shape, dx[chosen], dy[chosen], radius))

            # Blend over the patch's current pixels ("under"): color + (under - color) * (1 - alpha).
            # In-place steps, because fresh multi-MB temporaries cost more than the arithmetic.
            blended = windows[scene_ids, origin[:, 1], origin[:, 0]].astype(np.float32)  # (B_k, 3, P, P)
            color = palette[layout.color_ids[scene_ids, k]][:, :, None, None]  # (B_k, 3, 1, 1)
            blended -= color
            blended *= (1 - alpha)[:, None]
            blended += color + 0.5  # + 0.5 rounds to nearest in the uint8 cast
            windows[scene_ids, origin[:, 1], origin[:, 0]] = blended.astype(np.uint8)
# --8<-- [end:render]


@functools.lru_cache(maxsize=8)
def object_stamps(image_size: int) -> dict[str, np.ndarray]:
    """Prerender every object's box on the plain background: by size, uint8 (N_shape, N_color, 2r, 2r, 3).

    Each stamp is cut from the patch that `draw_objects` draws around an
    object at an integer center. For such an object every pixel outside the
    box keeps the background color, which this function checks, so copying
    the box alone gives exactly the pixels of a drawn object.
    """
    stamps = {}
    for size in SIZES:
        radius = object_radius(size, image_size)
        pairs = [(shape_id, color_id) for shape_id in range(len(SHAPES)) for color_id in range(len(COLORS))]
        # One scene per shape-color pair, its object centered so that the patch starts at (0, 0).
        layout = Layout(
            counts=np.ones(len(pairs), dtype=np.int64),
            shape_ids=np.array([[shape_id] for shape_id, _ in pairs]),
            color_ids=np.array([[color_id] for _, color_id in pairs]),
            size_ids=np.full((len(pairs), 1), SIZES.index(size)),
            centers=np.full((len(pairs), 1, 2), radius + 1, dtype=np.float32),
            keys=np.zeros(len(pairs), dtype=np.uint64),
        )
        canvas = render_background(layout.keys, image_size, textured=False)  # (N_pair, S, S, 3)
        draw_objects(canvas, layout, image_size)
        # The box spans pixels 1 to 2r of the patch. Everything around it must stay background.
        ring = np.ones((image_size, image_size), dtype=bool)
        ring[1:1 + 2 * radius, 1:1 + 2 * radius] = False
        if not (canvas[:, ring] == np.array(BACKGROUND_RGB, dtype=np.uint8)).all():
            raise RuntimeError(f"a {size} object at image size {image_size} colors pixels outside its box, "
                               "so a stamp of its box would miss them; render this size with draw_objects")
        box = canvas[:, 1:1 + 2 * radius, 1:1 + 2 * radius]  # (N_pair, 2r, 2r, 3)
        stamps[size] = np.ascontiguousarray(box).reshape(len(SHAPES), len(COLORS), 2 * radius, 2 * radius, 3)
        stamps[size].flags.writeable = False  # shared by every later call through the cache
    return stamps


def stampable_scenes(layout: Layout, image_size: int) -> np.ndarray:
    """Return a (B,) mask of the scenes whose objects can all be stamped on a plain background.

    A scene can be stamped when every object's center is on integer pixel
    coordinates, so its box is the prerendered one, and every object's box
    lies inside its own grid cell, one object per cell. Then no two boxes
    overlap and the order of drawing does not matter. Sampled scenes always
    qualify. Scenes placed by hand qualify when their centers are integers.
    """
    count = layout.shape_ids.shape[1]
    present = np.arange(count)[None, :] < layout.counts[:, None]  # (B, K)
    radius = np.array([object_radius(size, image_size) for size in SIZES], dtype=np.float32)[layout.size_ids]  # (B, K)
    centers = layout.centers  # (B, K, 2), (x, y)
    integral = (centers == np.floor(centers)).all(axis=-1)  # (B, K)

    # The grid cell (column, row) of each center, and whether the whole box lies inside it.
    cell, margin = grid_geometry(image_size)
    index = (centers - margin) // cell  # (B, K, 2)
    low = margin + index * cell  # (B, K, 2), the cell's first pixel
    inside = ((index >= 0) & (index < GRID) & (centers - radius[..., None] >= low)
              & (centers + radius[..., None] <= low + cell)).all(axis=-1)  # (B, K)

    # One object per cell: absent slots get distinct negative numbers, so they never collide.
    cells = np.where(present, index[..., 1] * GRID + index[..., 0], -1 - np.arange(count)[None, :])  # (B, K)
    ordered = np.sort(cells, axis=1)
    distinct = (ordered[:, 1:] != ordered[:, :-1]).all(axis=1)  # (B,)
    return (~present | (integral & inside)).all(axis=1) & distinct


def stamp_objects(canvas: np.ndarray, layout: Layout, image_size: int, scenes: np.ndarray) -> None:
    """Copy the prerendered box of every object of the chosen scenes into the canvas, in place.

    `scenes` is a (B,) mask from `stampable_scenes`. Each copy moves 2r rows
    of 6r contiguous bytes and does no arithmetic.
    """
    if not canvas.flags.c_contiguous:
        raise ValueError("stamp_objects needs a C-contiguous canvas; pass np.ascontiguousarray(canvas)")
    stamps = object_stamps(image_size)
    row, pixel = canvas.strides[1], canvas.strides[2]
    for size_id, size in enumerate(SIZES):
        side = 2 * object_radius(size, image_size)
        # Every side x side window of the canvas with its pixel rows flattened: (B, S-side+1, S-side+1, side, 3 side).
        windows = np.lib.stride_tricks.as_strided(
            canvas, shape=(len(canvas), image_size - side + 1, image_size - side + 1, side, 3 * side),
            strides=(canvas.strides[0], row, pixel, row, 1), writeable=True,
        )
        flat_stamps = stamps[size].reshape(len(SHAPES), len(COLORS), side, 3 * side)
        for k in range(layout.shape_ids.shape[1]):
            scene_ids = np.flatnonzero(scenes & (layout.counts > k) & (layout.size_ids[:, k] == size_id))  # (B_k,)
            if len(scene_ids) == 0:
                continue
            corner = layout.centers[scene_ids, k].astype(np.int64) - side // 2  # (B_k, 2), top-left box pixel
            windows[scene_ids, corner[:, 1], corner[:, 0]] = flat_stamps[
                layout.shape_ids[scene_ids, k], layout.color_ids[scene_ids, k]
            ]


@dataclass(frozen=True)
class Scene:
    """One scene: its objects, and the image, masks and text derived from them.

    The image, masks, captions and questions are computed on first access.
    `key` seeds the background texture and the choice among caption and
    question templates; `split` decides which absent pairs a question may name.
    """

    objects: tuple[SceneObject, ...]
    image_size: int = 64
    textured: bool = False
    split: str | None = None  # None: a hand-placed scene, whose questions may name any pair
    key: int = 0

    @classmethod
    def from_objects(cls, objects: Iterable[SceneObject | tuple], image_size: int = 64,
                     textured: bool = False) -> Scene:
        """Build a hand-specified scene.

        Each object is a SceneObject or a tuple (shape, color, size, position),
        where position is a grid cell name from CELL_NAMES ("top left",
        "center", ...) or an (x, y) center in pixels. Each object must lie
        inside its own cell of the 3x3 grid, because captions and answers
        state relations between cells.
        """
        check_image_size(image_size)
        built = tuple(obj if isinstance(obj, SceneObject) else make_object(*obj, image_size=image_size)
                      for obj in objects)
        if not 1 <= len(built) <= MAX_OBJECTS:
            raise ValueError(f"a scene needs 1 to {MAX_OBJECTS} objects (one per grid cell), got {len(built)}")
        for i, obj in enumerate(built):
            expected = make_object(obj.shape, obj.color, obj.size, obj.center, image_size)
            if obj.box != expected.box:
                raise ValueError(f"object {i} has box {obj.box}, but a {obj.size} object at {obj.center} has box "
                                 f"{expected.box} at image size {image_size}; build objects with make_object")
        # Each object inside its own grid cell, so that the relations in the text hold.
        cell, margin = grid_geometry(image_size)
        cells = [cell_of(obj, image_size) for obj in built]
        for i, (obj, (row, column)) in enumerate(zip(built, cells)):
            left, top = margin + column * cell, margin + row * cell
            x0, y0, x1, y1 = obj.box
            if x0 < left or y0 < top or x1 > left + cell or y1 > top + cell:
                raise ValueError(f"object {i} has box {obj.box}, which crosses the border of its grid cell "
                                 f"(row {row}, column {column}) spanning x {left}..{left + cell} and "
                                 f"y {top}..{top + cell}; move its center or use a cell name such as 'center'")
            for j in range(i):
                if cells[i] == cells[j]:
                    raise ValueError(f"objects {j} and {i} share grid cell (row {row}, column {column}); "
                                     f"place each object in its own cell of the {GRID}x{GRID} grid")
        return cls(built, image_size, textured)

    @cached_property
    def layout(self) -> Layout:
        """This scene as a one-scene Layout."""
        return Layout(
            counts=np.array([len(self.objects)]),
            shape_ids=np.array([[SHAPES.index(o.shape) for o in self.objects]]),
            color_ids=np.array([[COLORS.index(o.color) for o in self.objects]]),
            size_ids=np.array([[SIZES.index(o.size) for o in self.objects]]),
            centers=np.array([[o.center for o in self.objects]], dtype=np.float32),
            keys=np.array([self.key], dtype=np.uint64),
        )

    @cached_property
    def pixels(self) -> np.ndarray:
        """The image as uint8 (S, S, 3), read-only because it is cached."""
        pixels = render_layout(self.layout, self.image_size, self.textured)[0]
        pixels.flags.writeable = False
        return pixels

    @property
    def image(self) -> Image.Image:
        """The image as an RGB PIL image."""
        return Image.fromarray(self.pixels, mode="RGB")

    @cached_property
    def masks(self) -> np.ndarray:
        """Boolean masks (N_obj, S, S), read-only: the pixels whose center lies inside each object."""
        grid = np.arange(self.image_size, dtype=np.float32) + 0.5
        masks = []
        for obj in self.objects:
            dx = grid[None, :] - np.float32(obj.center[0])  # (1, S)
            dy = grid[:, None] - np.float32(obj.center[1])  # (S, 1)
            masks.append(signed_distance(obj.shape, dx, dy, np.float32(object_radius(obj.size, self.image_size))) < 0)
        masks = np.stack(masks)  # (N_obj, S, S)
        masks.flags.writeable = False
        return masks

    @cached_property
    def cells(self) -> tuple[tuple[int, int], ...]:
        """The grid cell (row, column) of each object."""
        return tuple(cell_of(o, self.image_size) for o in self.objects)

    @cached_property
    def captions(self) -> tuple[str, ...]:
        """Captions from several templates; captions[0] is the canonical one."""
        return make_captions(self.objects, self.cells, random.Random(self.key))

    @cached_property
    def canonical_caption(self) -> str:
        """The canonical caption, equal to captions[0], without writing the other templates."""
        return canonical_caption(self.objects, self.cells)

    @cached_property
    def questions(self) -> tuple[QA, ...]:
        """Question-answer pairs with one-word answers."""
        candidates = ALL_PAIRS if self.split in (None, "test_heldout") else SEEN_PAIRS
        return make_questions(self.objects, self.cells, random.Random(self.key + 1), candidates)


def cell_of(obj: SceneObject, image_size: int) -> tuple[int, int]:
    """Return the grid cell (row, column) that contains an object's center."""
    cell, margin = grid_geometry(image_size)
    column = min(GRID - 1, max(0, int((obj.center[0] - margin) // cell)))
    row = min(GRID - 1, max(0, int((obj.center[1] - margin) // cell)))
    return (row, column)


def check_choice(kind: str, value: object, choices: Sequence[str]) -> None:
    """Raise ValueError naming the valid choices when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {value!r}; valid {kind}s are {', '.join(choices)}")


def check_image_size(image_size: int) -> None:
    """Raise ValueError when the image is too small for the 3x3 grid of objects."""
    if not isinstance(image_size, (int, np.integer)) or image_size < MIN_IMAGE_SIZE:
        raise ValueError(f"image_size={image_size!r} is too small to draw on; use an integer >= {MIN_IMAGE_SIZE}")


def make_object(shape: str, color: str, size: str, position: str | tuple[float, float],
                image_size: int = 64) -> SceneObject:
    """Build a SceneObject at a grid cell name ("top left", "center", ...) or an (x, y) center."""
    check_choice("shape", shape, SHAPES)
    check_choice("color", color, COLORS)
    check_choice("size", size, SIZES)
    if isinstance(position, str):
        check_choice("position", position, tuple(CELL_NAMES))
        row, column = CELL_NAMES[position]
        cell, margin = grid_geometry(image_size)
        position = (margin + column * cell + cell // 2, margin + row * cell + cell // 2)
    x, y = float(position[0]), float(position[1])
    radius = object_radius(size, image_size)
    return SceneObject(shape, color, size, (x, y), (x - radius, y - radius, x + radius, y + radius))


class ShapesWorld:
    """A split of ShapesWorld: a finite, indexable collection of scenes.

    Scene i is a pure function of (seed, split, i). The random numbers come
    from a counter-based generator, a hash of (seed, split, i, draw number),
    so no generator state is shared and any scene is computed on its own.
    """

    def __init__(self, split: str = "train", image_size: int = 64, min_objects: int = 1,
                 max_objects: int = 3, seed: int = 0, textured: bool = False,
                 num_scenes: int | None = None) -> None:
        check_choice("split", split, SPLITS)
        check_image_size(image_size)
        if not 1 <= min_objects <= max_objects:
            raise ValueError(f"invalid object counts min_objects={min_objects}, max_objects={max_objects}; "
                             f"need 1 <= min_objects <= max_objects")
        if max_objects > MAX_OBJECTS:
            raise ValueError(f"max_objects={max_objects} is too many: the {GRID}x{GRID} grid has room for at "
                             f"most {MAX_OBJECTS} objects, one per cell; use max_objects <= {MAX_OBJECTS}")
        if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
            raise ValueError(f"seed={seed!r} is invalid; use an integer in [0, 2**64)")
        self.split = split
        self.image_size = image_size
        self.min_objects = min_objects
        self.max_objects = max_objects
        self.seed = seed
        self.textured = textured
        if num_scenes is not None and not (isinstance(num_scenes, (int, np.integer)) and num_scenes >= 1):
            raise ValueError(f"num_scenes={num_scenes!r} is invalid; use a positive integer or None for "
                             f"the split's default of {SPLIT_SIZES[split]}")
        self.num_scenes = SPLIT_SIZES[split] if num_scenes is None else int(num_scenes)

    def __len__(self) -> int:
        return self.num_scenes

    def __repr__(self) -> str:
        return (f"ShapesWorld(split={self.split!r}, image_size={self.image_size}, "
                f"min_objects={self.min_objects}, max_objects={self.max_objects}, seed={self.seed}, "
                f"textured={self.textured}, num_scenes={self.num_scenes})")

    def __getitem__(self, index: int) -> Scene:
        return self.scenes([index])[0]

    def __iter__(self) -> Iterator[Scene]:
        for index in range(len(self)):
            yield self[index]

    def _check_indices(self, indices: Iterable[int]) -> np.ndarray:
        array = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices)
        if array.ndim != 1 or (len(array) and not np.issubdtype(array.dtype, np.integer)):
            raise TypeError(f"scene indices must be a 1-D sequence of integers, got {indices!r}")
        bad = array[(array < 0) | (array >= len(self))]
        if len(bad):
            raise IndexError(f"scene index {bad[0]} is out of range for the {self.split!r} split; "
                             f"valid indices are 0 to {len(self) - 1}")
        return array.astype(np.int64)

    def layout(self, indices: Iterable[int]) -> Layout:
        """Sample the objects of the scenes at `indices`, without text or pixels."""
        array = self._check_indices(indices)
        return sample_layout(self.seed, self.split, array, self.image_size, self.min_objects, self.max_objects)

    def scenes(self, indices: Iterable[int], layout: Layout | None = None) -> list[Scene]:
        """Build the Scene objects at `indices`."""
        layout = self.layout(indices) if layout is None else layout
        radius = {s: object_radius(s, self.image_size) for s in SIZES}
        # Python lists: indexing them per object is much faster than indexing numpy arrays.
        shape_ids, color_ids, size_ids = layout.shape_ids.tolist(), layout.color_ids.tolist(), layout.size_ids.tolist()
        centers, keys = layout.centers.tolist(), layout.keys.tolist()
        built = []
        for b, count in enumerate(layout.counts.tolist()):
            objects = []
            for k in range(count):
                size = SIZES[size_ids[b][k]]
                r = radius[size]
                x, y = centers[b][k]
                objects.append(SceneObject(SHAPES[shape_ids[b][k]], COLORS[color_ids[b][k]], size, (x, y),
                                           (x - r, y - r, x + r, y + r)))
            built.append(Scene(tuple(objects), self.image_size, self.textured, self.split, keys[b]))
        return built

    def images(self, indices: Iterable[int]) -> np.ndarray:
        """Render the scenes at `indices` in one vectorized pass, as uint8 (B, S, S, 3)."""
        return render_layout(self.layout(indices), self.image_size, self.textured)

    def batch(self, indices: Iterable[int]) -> dict:
        """Return pixel_values, a float32 tensor (B, 3, S, S) in [0, 1], and the scenes."""
        import torch  # imported here so that the rendering path needs numpy alone

        indices = self._check_indices(indices)
        layout = self.layout(indices)
        images = render_layout(layout, self.image_size, self.textured)  # (B, S, S, 3)
        # Converted in numpy on one thread: torch's threaded copy ran about 3x slower
        # while other processes kept the CPUs busy (torch 2.13 on 2 cores).
        pixel_values = np.empty((len(images), 3, self.image_size, self.image_size), dtype=np.float32)  # (B, 3, S, S)
        pixel_values[...] = images.transpose(0, 3, 1, 2)
        pixel_values /= np.float32(255.0)
        return {"pixel_values": torch.from_numpy(pixel_values), "scenes": self.scenes(indices, layout)}

    def place(self, objects: Iterable[SceneObject | tuple]) -> Scene:
        """Build a hand-specified scene at this world's image size; see Scene.from_objects."""
        return Scene.from_objects(objects, self.image_size, self.textured)

    @staticmethod
    def vocabulary() -> list[str]:
        """List every word that a caption, question or answer can contain."""
        return vocabulary()
