"""`make bench`: run every benchmark in turn, each in its own process, and list where each wrote its figures.

Each benchmark writes JSON + a Markdown table under benchmarks/output/. The neural ones take minutes (their
networks cost seconds per frame on a CPU); choose some with `python -m benchmarks.run_all face_analysis drive`.
"""

from __future__ import annotations

import subprocess
import sys
import time

# Fast product benchmarks first, then the neural parts (slow on a CPU).
BENCHMARKS = [
    "face_analysis", "face_accuracy", "drive", "lipsync_eval", "render", "product", "stream", "server",
    "audio2motion_cpu", "lpaudio_cpu", "sadtalker_cpu", "liveportrait_cpu", "aniportrait_cpu",
]


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}"])
        print(f"== {name}: {'ok' if code == 0 else f'exit {code}'} in {time.perf_counter() - start:.0f} s", flush=True)
        if code:
            failed.append(name)
    print("figures: benchmarks/output/*.md" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
