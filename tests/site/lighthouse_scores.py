"""Score the built book with Lighthouse: home page and one chapter, in both editions.

Usage: ``python tests/site/lighthouse_scores.py [--site DIR] [--report FILE] [--runs N]``
(``make lighthouse`` runs it). Without ``--site`` it first runs a strict build
into a temporary folder. The site is served by Python's http.server on
127.0.0.1, and Lighthouse (pinned in package.json, installed by ``npm ci``)
drives Debian's Chromium (CHROME_PATH, default /usr/bin/chromium) with its
default mobile settings and simulated throttling. Each page is scored N
times (default 7) and the run with the median performance score counts.
Lighthouse's documentation on score variability (docs/variability.md in
its repository) finds the median of 5 runs twice as stable as one run. On
this book's home page, 4 of 38 single runs scored 92 to 94 and the others
95 to 100, so the default takes 7 runs. The
script prints the performance, accessibility and best-practices scores and
the page weight of each page, and exits with status 1 when a score is below
the minimum.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sitetools import CHROMIUM, ROOT, mkdocs_build  # noqa: E402

PAGES = ("/", "/clip/", "/en/", "/en/clip/")
if os.environ.get("VLMBOOK_LIGHTHOUSE_PAGES"):
    PAGES = tuple(os.environ["VLMBOOK_LIGHTHOUSE_PAGES"].split(","))
CATEGORIES = ("performance", "accessibility", "best-practices")
MINIMUM_SCORE = 95
METRICS = (
    "first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
    "cumulative-layout-shift", "speed-index",
)
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"


class _PagesHandler(http.server.SimpleHTTPRequestHandler):
    """Serve the site as GitHub Pages does: text files gzip-compressed when the client accepts it.

    Python's plain handler sends everything uncompressed, which would cost
    the performance score time that readers of the deployed site never wait.
    """

    COMPRESSED_SUFFIXES = {".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".ipynb"}

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.endswith("/"):
            path = path / "index.html"
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts_gzip and path.suffix in self.COMPRESSED_SUFFIXES and path.is_file()):
            return super().do_GET()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def score_page(url: str, output_dir: Path) -> dict:
    """Run Lighthouse on `url`; return its category scores (0-100) and page weight in bytes."""
    report_file = output_dir / (url.rstrip("/").split("//", 1)[1].replace("/", "_") + ".json")
    command = [
        str(LIGHTHOUSE), url,
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json", f"--output-path={report_file}",
        f"--chrome-flags={CHROME_FLAGS}", "--quiet",
    ]
    environment = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", str(CHROMIUM))}
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    if completed.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}:\n{completed.stderr[-3000:]}")
    report = json.loads(report_file.read_text(encoding="utf-8"))
    scores = {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}
    failed_audits = {
        name: [
            audit_id
            for reference in report["categories"][name]["auditRefs"]
            if reference["weight"] > 0
            and (audit_id := reference["id"]) in report["audits"]
            and report["audits"][audit_id]["score"] is not None
            and report["audits"][audit_id]["score"] < 1
        ]
        for name in CATEGORIES
    }
    metrics = {
        audit_id: report["audits"][audit_id]["displayValue"]
        for audit_id in METRICS
        if audit_id in report["audits"]
    }
    return {
        "url": url,
        "scores": scores,
        "metrics": metrics,
        # Lighthouse's CPU benchmark of this machine at the time of the run.
        "benchmark_index": report["environment"]["benchmarkIndex"],
        "page_weight_bytes": int(report["audits"]["total-byte-weight"]["numericValue"]),
        "failed_audits": failed_audits,
    }


def median_run(url: str, output_dir: Path, runs: int) -> dict:
    """Score `url` `runs` times; return the run with the median performance score, and all scores.

    Lighthouse's scores vary from run to run with the machine's load, so the
    median of an odd number of runs, itself one real run, is steadier than any
    single run.
    """
    results = []
    for run in range(runs):
        run_dir = output_dir / f"run-{run}"
        run_dir.mkdir(exist_ok=True)
        results.append(score_page(url, run_dir))
    in_run_order = [result["scores"]["performance"] for result in results]
    results.sort(key=lambda result: result["scores"]["performance"])
    median = dict(results[len(results) // 2])
    median["performance_runs"] = in_run_order
    return median


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--site", type=Path,
        help="a site folder built with SITE_URL=http://127.0.0.1/ (default: build one); with the default "
        "site_url, the pages ask for /vlmbook/sitemap.xml, which the local server lacks",
    )
    parser.add_argument("--report", type=Path, help="write the scores as JSON to this file")
    parser.add_argument("--runs", type=int, default=7, help="runs per page; the median run counts (default: 7)")
    options = parser.parse_args(arguments)
    if options.runs < 1 or options.runs % 2 == 0:
        parser.error(f"--runs must be an odd number of at least 1, got {options.runs}")
    if not LIGHTHOUSE.exists():
        print(f"{LIGHTHOUSE.relative_to(ROOT)} not found; install it with: npm ci", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="vlmbook-lighthouse-") as scratch:
        site = options.site
        if site is None:
            site = Path(scratch) / "site"
            result = mkdocs_build(ROOT / "mkdocs.yml", site)
            if result.returncode != 0:
                print(result.stdout + result.stderr, file=sys.stderr)
                return 2
        handler = functools.partial(_PagesHandler, directory=str(site))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            results = [median_run(f"{base}{path}", Path(scratch), options.runs) for path in PAGES]
        finally:
            server.shutdown()

    failures = []
    print(f"{'page':<12} " + " ".join(f"{c:>15}" for c in CATEGORIES) + f" {'page weight':>12}")
    for path, result in zip(PAGES, results):
        scores = result["scores"]
        print(f"{path:<12} " + " ".join(f"{scores[c]:>15}" for c in CATEGORIES)
              + f" {result['page_weight_bytes'] / 1024:>9.0f} KiB"
              + f"   performance runs, in order: {result['performance_runs']}")
        for name in CATEGORIES:
            if scores[name] < MINIMUM_SCORE:
                audits = ", ".join(result["failed_audits"][name])
                failures.append(f"{path}: {name} {scores[name]} < {MINIMUM_SCORE} (audits: {audits})")
    if options.report:
        options.report.write_text(json.dumps(results, indent=1), encoding="utf-8")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
