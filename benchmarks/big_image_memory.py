"""Peak memory of big images: a 30,000 x 30,000 TIFF (refused from its header) and the largest
image that passes the pixel limit (read, and with ``--count`` counted with the bundled model).

Each case runs ``countxplain`` in a fresh subprocess that reports its own peak resident set size
(``resource.getrusage``), so one case's memory never inflates another's. Writes
``benchmarks/results/big_image_memory.json``.

Usage: OMP_NUM_THREADS=1 python benchmarks/big_image_memory.py [--count] [--side 9000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # for tests/helpers/bad_inputs/

OUT = Path(__file__).resolve().parent / "results" / "big_image_memory.json"
CHILD = """
import json, resource, sys, time
from countxplain.errors import CountXplainError
from countxplain.images import read_image
start = time.perf_counter()
result = {}
try:
    image = read_image(sys.argv[1])
    result["read"] = list(image.pixels.shape)
    if sys.argv[2] == "count":
        import torch
        torch.set_num_threads(1)
        from countxplain.inference import Counter
        from countxplain.modelfile import load_model
        from countxplain.resources import default_model_path
        result["count"] = Counter(load_model(default_model_path()), device="cpu").count(
            image.pixels, estimate_cell_size=True).count
except CountXplainError as error:
    result["refused"] = str(error)
result["seconds"] = round(time.perf_counter() - start, 1)
result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(result))
"""


def measure(path: Path, action: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), action], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    import numpy as np
    import tifffile

    from helpers.bad_inputs.files import zlib_bomb_tiff
    from helpers.bad_inputs.pixels import cells

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", action="store_true", help="also count the passing image (slow on a CPU)")
    parser.add_argument("--side", type=int, default=9000, help="side of the passing image (side^2 under the limit)")
    args = parser.parse_args(argv)
    result = {}
    with tempfile.TemporaryDirectory() as folder:
        bomb = Path(folder) / "bomb.tif"
        bomb.write_bytes(zlib_bomb_tiff())
        result["bomb_30000x30000_zlib_tiff"] = {"file_bytes": bomb.stat().st_size, **measure(bomb, "read")}
        print(json.dumps(result), flush=True)
        big = Path(folder) / "big.tif"
        tile = np.tile(cells(), (args.side // 96 + 1, args.side // 96 + 1, 1))[:args.side, :args.side]
        tifffile.imwrite(big, tile)
        del tile
        key = f"uncompressed_{args.side}x{args.side}_rgb_tiff"
        result[key] = {"file_bytes": big.stat().st_size, **measure(big, "count" if args.count else "read")}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
