"""Training recipes, one per checkpoint name: data, loss and evaluation."""

from __future__ import annotations

NAMES = ("clip", "blip-captioning", "blip-vqa", "blip-itm", "llava")


def get_recipe(name: str, seed: int = 0, init_from: str | None = None):
    """Return the recipe object of a checkpoint name; `init_from` is a checkpoint to warm-start from."""
    if init_from is not None:
        from vlmbook.checkpoints import CheckpointError
        from vlmbook.recipes.warm_start import WARM_START_SOURCE

        if name not in WARM_START_SOURCE:
            raise CheckpointError(f"{name} has no warm start; only {', '.join(WARM_START_SOURCE)} take --init-from")
    if name == "clip":
        from vlmbook.recipes.clip import ClipRecipe

        return ClipRecipe(seed=seed)
    if name in ("blip-captioning", "blip-vqa", "blip-itm"):
        from vlmbook.recipes.blip import BLIP_RECIPES

        return BLIP_RECIPES[name](seed=seed, init_from=init_from)
    if name == "llava":
        from vlmbook.recipes.llava import LlavaRecipe

        return LlavaRecipe(seed=seed, init_from=init_from)
    raise ValueError(f"unknown recipe {name!r}; valid names: {', '.join(NAMES)}")
