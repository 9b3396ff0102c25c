"""Probe: ridge regression from frozen VGG stride-4 features (+ 3x3 / 7x7 local means) to the stride-4 dot map."""
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, "experiments")
from s4_probe import BF16, DATA, SETS, Frozen, S, normalise_batch, resize

from countxplain.datasets import load_sample
from countxplain.density import pooled_density_map
from countxplain.protocols import few_shot_split, load_protocol_data

torch.set_num_threads(2)

def feats(frozen, px):
    t = normalise_batch(resize(px, 1)); H, W = t.shape[-2:]
    t = F.pad(t, (0, (-W) % S, 0, (-H) % S))
    with torch.no_grad(), BF16:
        f = frozen(t).float()
    f = torch.log1p(f)
    return torch.cat([f, F.avg_pool2d(f, 3, 1, 1, count_include_pad=False), F.avg_pool2d(f, 7, 1, 3, count_include_pad=False)], 1)[0]

left = sys.argv[1]; frozen = Frozen().eval()
_, ds = load_protocol_data(DATA, SETS[left])
for n in (5, 15):
    shots, rest, test = few_shot_split(ds, SETS[left], n, 0)
    X, Y = [], []
    for s in shots:
        img, dots = load_sample(s); f = feats(frozen, img.pixels)
        d = pooled_density_map(dots, (img.height, img.width), sigma=4.0, stride=S)
        X.append(f.reshape(f.shape[0], -1).T.numpy()); Y.append(d[:f.shape[1], :f.shape[2]].reshape(-1))
    X = np.concatenate(X).astype(np.float64); Y = np.concatenate(Y).astype(np.float64)
    mu, sd = X.mean(0), X.std(0) + 1e-6; Xs = (X - mu) / sd
    G = Xs.T @ Xs; b = Xs.T @ (Y - Y.mean())
    tf = [(feats(frozen, load_sample(s)[0].pixels), len(load_sample(s)[1])) for s in test]
    for lam in (1e2, 1e3, 1e4, 1e5, 1e6):
        w = np.linalg.solve(G + lam * len(Y) / 1e4 * np.eye(len(G)), b)
        errs = []
        for f, c in tf:
            Z = ((f.reshape(f.shape[0], -1).T.numpy() - mu) / sd)
            errs.append(abs((Z @ w + Y.mean()).sum() - c))
        print(left, n, lam, f"MAE {np.mean(errs):.2f}", flush=True)
