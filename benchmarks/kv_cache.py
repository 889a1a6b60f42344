"""Greedy generation with the key-value cache against generation without it, 64 new tokens.

Without a cache every step runs the decoder over the whole sequence again.
With one, each step runs only the newest token and reuses the stored keys and
values, and BLIP computes the image keys of its cross-attention only once. One run
times both, in turn, for vlmbook's LLaVA and BLIP captioner, prints the speed-up
and writes benchmarks/results/kv_cache.json. The goal is a speed-up of at least 3x.

    python benchmarks/kv_cache.py [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from vlmbook.blip import BlipConfig, BlipForCaptioning
from vlmbook.llava import Llava, LlavaConfig
from vlmbook.text import TextConfig
from vlmbook.vision import ViTConfig

GOAL = 3.0
NEW_TOKENS = 64
RESULTS = Path(__file__).parent / "results" / "kv_cache.json"


def llava_case(batch: int):
    """Build a small LLaVA with 64 image tokens per prompt and an unreachable eos id, so all 64 steps run."""
    config = LlavaConfig(vision=ViTConfig(width=128, num_heads=4, mlp_dim=512), vocab_size=512, text_width=256,
                         text_layers=4, text_heads=8, text_kv_heads=4, text_mlp_dim=688, image_token_id=511,
                         eos_token_id=-1)
    model = Llava(config).eval()
    text = torch.randint(3, 500, (batch, 16))
    input_ids = torch.cat([text[:, :4], torch.full((batch, 64), 511), text[:, 4:]], dim=1)
    pixel_values = torch.rand(batch, 3, 64, 64)
    return lambda use_cache: model.generate(input_ids, pixel_values, NEW_TOKENS, use_cache), input_ids.shape[1]


def blip_case(batch: int):
    """Build a small BLIP captioner over 65 image tokens with an unreachable [SEP], so all 64 steps run."""
    text = TextConfig(vocab_size=512, width=256, num_layers=4, num_heads=8, mlp_dim=1024, max_positions=80,
                      context_width=128, bos_token_id=1, sep_token_id=-1)
    vision = ViTConfig(width=128, num_heads=4, mlp_dim=512, act="gelu", patch_bias=True, pre_norm=False)
    model = BlipForCaptioning(BlipConfig(vision=vision, text=text)).eval()
    pixel_values = torch.rand(batch, 3, 64, 64)
    return lambda use_cache: model.generate(pixel_values, max_new_tokens=NEW_TOKENS, use_cache=use_cache), 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed generations per variant")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (fewer means less noise)")
    parser.add_argument("--batch", type=int, default=4, help="prompts generated together")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    results = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
               "threads": args.threads, "batch": args.batch, "new_tokens": NEW_TOKENS, "goal_speedup": GOAL,
               "models": {}}
    for name, build in (("llava", llava_case), ("blip-captioning", blip_case)):
        generate, prompt_length = build(args.batch)
        # Warm-up. The tests check that both paths give the same ids. With random
        # weights two logits can tie to within 1e-6, so here only the lengths are checked.
        cached, uncached = generate(True), generate(False)
        expected = (args.batch, prompt_length + NEW_TOKENS)
        if cached.shape != expected or uncached.shape != expected:
            raise RuntimeError(f"{name}: generation stopped early: shapes {cached.shape} and {uncached.shape}")
        times = {True: [], False: []}
        for _ in range(args.repeats):
            for use_cache in (True, False):
                start = time.perf_counter()
                generate(use_cache)
                times[use_cache].append(time.perf_counter() - start)
        with_cache, without_cache = statistics.median(times[True]), statistics.median(times[False])
        speedup = without_cache / with_cache
        results["models"][name] = {"with_cache_s": with_cache, "without_cache_s": without_cache, "speedup": speedup}
        verdict = "meets" if speedup >= GOAL else "MISSES"
        print(f"{name:16s} with cache {with_cache:6.2f} s | without {without_cache:6.2f} s | "
              f"speed-up {speedup:.1f}x ({verdict} >= {GOAL}x)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
