"""Tests of `vlmbook.allocator`: freed memory is reused without page faults.

Each test runs in a subprocess, because the setting lasts as long as the
process and the test process should keep glibc's defaults.
"""

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

BLOCK = 8 * 1024 * 1024
PAGES_PER_STEP = 8 * BLOCK // 4096  # pages of 4 KiB that one step of MEASURE writes

# A step in miniature, with malloc itself: eight 8 MiB blocks live at once, every page written,
# then all freed. glibc's defaults hand them back to the kernel at every step.
MEASURE = f"""
import ctypes, json, resource, sys

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]

def faults_per_step(steps):
    start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        blocks = [libc.malloc({BLOCK}) for _ in range(8)]
        for block in blocks:
            libc.memset(block, 1, {BLOCK})
        for block in blocks:
            libc.free(block)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start) / steps

faults_per_step(5)  # past the first steps, where glibc's adaptive thresholds move
before = faults_per_step(10)
APPLY
faults_per_step(2)  # the first steps after the change grow the heap once
after = faults_per_step(10)
print(json.dumps({{"before": before, "after": after}}))
"""


def measure(apply: str) -> dict:
    """Run MEASURE with `apply` between the two measurements; return its faults per step."""
    assert "APPLY" in MEASURE
    script = MEASURE.replace("APPLY", apply)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_keep_freed_memory_stops_faults():
    faults = measure("from vlmbook.allocator import keep_freed_memory\nassert keep_freed_memory()")
    # By default nearly every page is faulted in again at every step; afterwards almost none.
    assert faults["before"] > PAGES_PER_STEP / 2, faults
    assert faults["after"] < PAGES_PER_STEP / 1000, faults


def test_defaults_keep_faulting():
    # The control: without the setting, the pattern still faults at the later steps.
    faults = measure("pass")
    assert faults["after"] > PAGES_PER_STEP / 2, faults


def test_train_command_keeps_freed_memory(tmp_path):
    # `vlmbook train` applies the setting: after a one-step run in the same process, the pattern no longer faults.
    out = tmp_path / "clip"
    run = (
        "from vlmbook.cli import main\n"
        f"assert main(['train', 'clip', '--out', {str(out)!r}, '--max-steps', '1', '--eval-scenes', '100']) == 0"
    )
    faults = measure(run)
    assert faults["before"] > PAGES_PER_STEP / 2, faults
    assert faults["after"] < PAGES_PER_STEP / 1000, faults
    assert (out / "model.safetensors").is_file()
