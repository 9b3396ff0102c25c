"""Choose the fine-tune recipe on a left-out set's remaining training images (never its test images).

Usage: python experiments/fine_tune_sweep.py LEFT_OUT N SEEDS VARIANTS
  SEEDS: comma-separated, e.g. 0,1,2; VARIANTS: JSON {name: {option: value}} of fine-tune overrides.
"""
import json
import sys
import time

sys.path.insert(0, "benchmarks")
import numpy as np  # noqa: E402
from few_shot import SET_PROTOCOL, read_annotated, test_mae  # noqa: E402

from countxplain.modelfile import load_model  # noqa: E402
from countxplain.protocols import few_shot_split, load_protocol_data  # noqa: E402
from countxplain.training import train_model  # noqa: E402

left, n, seeds = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
variants = json.loads(sys.argv[4])
base = load_model(f"build/few_shot/base-without-{left}.cxm")
_, dataset = load_protocol_data("../shared/data", SET_PROTOCOL[left])
maes = {name: [] for name in variants}
for seed in seeds:
    shots, rest, _ = few_shot_split(dataset, SET_PROTOCOL[left], n, seed)
    rest = read_annotated(rest[:10])
    for name, overrides in variants.items():
        start = time.time()
        run = train_model(shots, "fine-tune", {"seed": seed, **overrides}, init=base, gallery_k=0)
        mae, _ = test_mae(run.bundle, rest)
        maes[name].append(mae)
        calibration = [h["factor"] for h in run.history if h.get("stage") == "calibrate"]
        print(left, n, seed, name, f"rest MAE {mae:.2f}", f"{time.time() - start:.0f}s",
              f"calibration {calibration}" if calibration else "", flush=True)
for name, values in maes.items():
    print(f"{left} N={n} {name}: mean rest MAE {np.mean(values):.2f} over seeds {seeds}")
