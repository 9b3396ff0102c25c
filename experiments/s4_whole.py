"""Probe: fine-tune the stride-4 head on whole cached shot images (count loss over the whole image)."""
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, "experiments")
from s4_probe import BF16, DATA, SETS, Frozen, Head, S, evaluate, normalise_batch, resize, set_norm

from countxplain.datasets import load_sample
from countxplain.density import pooled_density_map
from countxplain.protocols import few_shot_split, load_protocol_data

torch.set_num_threads(2)
left, sim = sys.argv[1], sys.argv[2]
frozen = Frozen().eval(); _, ds = load_protocol_data(DATA, SETS[left])
def whole(samples):
    out = []
    for s in samples:
        img, dots = load_sample(s)
        t = normalise_batch(resize(img.pixels, 1)); H, W = t.shape[-2:]
        t = F.pad(t, (0, (-W) % S, 0, (-H) % S))
        with torch.no_grad(), BF16:
            f = frozen(t)[0].to(torch.bfloat16)
        d = pooled_density_map(dots, (img.height, img.width), sigma=4.0, stride=S)[:f.shape[1], :f.shape[2]]
        out.append((f, torch.from_numpy(d.copy())[None, None]))
    return out
def fit(head, data, steps, lr, cw):
    opt = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(0)
    for step in range(steps):
        f, t = data[int(torch.randint(0, len(data), (1,), generator=g))]
        f = f[None].float()
        if step % 2: f, t = f.flip(-1), t.flip(-1)
        if step % 4 > 1: f, t = f.flip(-2), t.flip(-2)
        with BF16:
            dens, _, _ = head(f)
        dens = dens.float()
        loss = ((dens - t) ** 2).sum() * 10 + cw * (dens.sum() - t.sum()) ** 2 / max(1.0, float(t.sum()))
        opt.zero_grad(); loss.backward(); opt.step()
for n in (5, 15):
    shots, rest, test = few_shot_split(ds, SETS[left], n, 0)
    data = whole(shots)
    for init in ("base", "scratch"):
        for lr in (3e-4, 1e-3):
            head = Head(sim=sim)
            if init == "base": head.load_state_dict(torch.load(f"/tmp/s4_base_{left}_exp.pt"))
            else: set_norm(head, torch.cat([f[None] for f, _ in data[:3]], 0) if len(set(f.shape for f, _ in data)) == 1 else data[0][0][None])
            t0 = time.time(); fit(head, data, 400, lr, 1.0)
            print(left, n, init, lr, f"MAE {evaluate(frozen, head, test):.2f}", f"{time.time()-t0:.0f}s", flush=True)
