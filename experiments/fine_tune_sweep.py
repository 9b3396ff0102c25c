"""Choose the fine-tune recipe on a left-out set's remaining training images (never its test images)."""
import sys, time, json
sys.path.insert(0, "benchmarks")
from countxplain.modelfile import load_model
from countxplain.protocols import few_shot_split, load_protocol_data
from countxplain.training import train_model
from few_shot import SET_PROTOCOL, read_annotated, test_mae
left, n = sys.argv[1], int(sys.argv[2])
variants = json.loads(sys.argv[3])
base = load_model(f"build/few_shot/base-without-{left}.cxm")
_, ds = load_protocol_data("../shared/data", SET_PROTOCOL[left])
for seed in (0,):
    shots, rest, _ = few_shot_split(ds, SET_PROTOCOL[left], n, seed)
    rest = rest[:12]
    for name, overrides in variants.items():
        t = time.time()
        run = train_model(shots, "fine-tune", {"seed": seed, **overrides}, init=base, gallery_k=0)
        mae, _ = test_mae(run.bundle, read_annotated(rest))
        print(left, n, seed, name, f"rest MAE {mae:.2f}", f"{time.time()-t:.0f}s", flush=True)
