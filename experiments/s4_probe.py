"""Probe: frozen VGG (conv2_2 pooled + conv3_3) at stride 4, a small trained backend and a prototype head
with a similarity that vanishes away from its prototype; base on three sets, fine-tune on N shots of the fourth."""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from countxplain.datasets import load_sample
from countxplain.density import pooled_density_map
from countxplain.network import normalise_batch, vgg16_frontend
from countxplain.pretrained import load_csrnet_state
from countxplain.protocols import PROTOCOLS, few_shot_split, load_protocol_data

torch.set_num_threads(2)
DATA = "../shared/data"
S = 4
CROP = 192
BF16 = torch.autocast("cpu", dtype=torch.bfloat16)

class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        fe = vgg16_frontend(); st = load_csrnet_state()
        fe.load_state_dict({k[9:]: v for k, v in st.items() if k.startswith("frontend.")})
        self.to2, self.to3 = fe[:9], fe[9:16]
        for p in self.parameters(): p.requires_grad_(False)
    def forward(self, x):
        a = self.to2(x); b = self.to3(a)
        return torch.cat([F.avg_pool2d(a, 2), b], 1)

class Head(nn.Module):
    def __init__(self, kc=4, kb=4, d=32, sim="exp"):
        super().__init__()
        self.norm_mean = nn.Parameter(torch.zeros(1, 384, 1, 1), requires_grad=False)
        self.norm_std = nn.Parameter(torch.ones(1, 384, 1, 1), requires_grad=False)
        self.backend = nn.Sequential(nn.Conv2d(384, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 128, 3, padding=2, dilation=2), nn.ReLU(),
                                     nn.Conv2d(128, 64, 3, padding=2, dilation=2), nn.ReLU())
        self.fp = nn.Conv2d(64, d, 1)
        self.kc, self.kb, self.sim = kc, kb, sim
        self.protos = nn.Parameter(torch.rand(kc + kb, d))
        self.log_gamma = nn.Parameter(torch.full((kc + kb,), math.log(0.5)))
        self.w = nn.Parameter(torch.full((kc + kb,), -2.0))
        self.bias = nn.Parameter(torch.zeros(1))
    def forward(self, f):
        z = torch.sigmoid(self.fp(self.backend((f - self.norm_mean) / self.norm_std)))
        dist = ((z ** 2).sum(1, keepdim=True) - 2 * torch.einsum("bdhw,kd->bkhw", z, self.protos) + (self.protos ** 2).sum(1).view(1, -1, 1, 1)).clamp_min(0)
        if self.sim == "exp":
            s = torch.exp(-self.log_gamma.exp().view(1, -1, 1, 1) * dist)
            w = F.softplus(self.w)
            w = torch.cat([w[:self.kc], -w[self.kc:] * 0.0])
            dens = torch.einsum("bkhw,k->bhw", s, w).unsqueeze(1)
        else:
            s = torch.log((dist + 1) / (dist + 1e-4))
            dens = torch.einsum("bkhw,k->bhw", s, self.w).unsqueeze(1) + self.bias
        return dens, s, dist

def resize(px, f):
    t = torch.from_numpy(px).permute(2, 0, 1)[None]
    if f == 1: return t
    return F.interpolate(t, scale_factor=f, mode="bilinear", antialias=True, align_corners=False, recompute_scale_factor=False)

def make_crops(frozen, samples, scales, rng, per_area=0.5, cap=4):
    feats, targs, masks = [], [], []
    for smp in samples:
        img, dots = load_sample(smp)
        for f in scales:
            t = resize(img.pixels, f); H, W = t.shape[-2:]
            d = dots * np.array([W / img.width, H / img.height])
            n = int(min(cap, max(1, round(H * W / CROP ** 2 * per_area))))
            Hp, Wp = max(H, CROP), max(W, CROP)
            pad = torch.zeros(1, 3, Hp, Wp); pad[..., :H, :W] = normalise_batch(t)
            dens = pooled_density_map(d, (Hp, Wp), sigma=4.0, stride=S)
            m = np.zeros((Hp // S, Wp // S), np.float32); m[:math.ceil(H / S), :math.ceil(W / S)] = 1
            for _ in range(n):
                y = rng.integers(0, (Hp - CROP) // S + 1) * S; x = rng.integers(0, (Wp - CROP) // S + 1) * S
                with torch.no_grad(), BF16:
                    fe = frozen(pad[..., y:y + CROP, x:x + CROP])
                feats.append(fe[0].to(torch.bfloat16)); cy, cx = y // S, x // S; c = CROP // S
                targs.append(torch.from_numpy(dens[cy:cy + c, cx:cx + c].copy())); masks.append(torch.from_numpy(m[cy:cy + c, cx:cx + c].copy()))
    return torch.stack(feats), torch.stack(targs)[:, None], torch.stack(masks)[:, None]

def train(head, data, steps, lr, batch=16, log=""):
    feats, targs, masks = data
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(0); t0 = time.time()
    for step in range(steps):
        idx = torch.randint(0, len(feats), (batch,), generator=g)
        f, t, m = feats[idx].float(), targs[idx], masks[idx]
        if torch.rand(1, generator=g) < 0.5: f, t, m = f.flip(-1), t.flip(-1), m.flip(-1)
        if torch.rand(1, generator=g) < 0.5: f, t, m = f.flip(-2), t.flip(-2), m.flip(-2)
        with BF16:
            dens, s, dist = head(f)
        dens = dens.float() * m
        loss = ((dens - t) ** 2).sum() / batch * 10 + 0.01 * ((dens.sum((1, 2, 3)) - t.sum((1, 2, 3))) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % 200 == 0: print(f"{log} step {step} loss {loss.item():.4f} {time.time()-t0:.0f}s", flush=True)
    return time.time() - t0

def evaluate(frozen, head, samples):
    errs = []
    for smp in samples:
        img, dots = load_sample(smp)
        t = normalise_batch(resize(img.pixels, 1)); H, W = t.shape[-2:]
        t = F.pad(t, (0, (-W) % S, 0, (-H) % S))
        with torch.no_grad(), BF16:
            dens, _, _ = head(frozen(t))
        errs.append(abs(dens.float().sum().item() - len(dots)))
    return float(np.mean(errs))

def set_norm(head, feats):
    f = feats[:, :, ::2, ::2].float()
    head.norm_mean.data = f.mean((0, 2, 3)).view(1, -1, 1, 1); head.norm_std.data = f.std((0, 2, 3)).view(1, -1, 1, 1) + 1e-3

SETS = {"mbm": "mbm", "adi": "adi", "vgg": "vgg32", "dsb2018": "dsb2018"}
if __name__ == "__main__":
    left = sys.argv[1]; sim = sys.argv[2] if len(sys.argv) > 2 else "exp"; base_steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    frozen = Frozen().eval(); rng = np.random.default_rng(0); torch.manual_seed(0)
    base = []
    for name, proto in SETS.items():
        if name == left: continue
        _, ds = load_protocol_data(DATA, proto); tr, va, te = PROTOCOLS[proto].split(ds, 0)
        base += tr + va
    t0 = time.time(); data = make_crops(frozen, base, (0.6, 0.8, 1.0, 1.25, 1.6), rng, per_area=0.25, cap=2)
    print("base crops", len(data[0]), f"{time.time()-t0:.0f}s", flush=True)
    head = Head(sim=sim); set_norm(head, data[0])
    tt = train(head, data, base_steps, 2e-3, log="base")
    torch.save(head.state_dict(), f"/tmp/s4_base_{left}_{sim}.pt")
    _, ds = load_protocol_data(DATA, SETS[left])
    res = {"left": left, "sim": sim, "base_time": tt}
    shots, rest, test = few_shot_split(ds, SETS[left], 15, 0)
    res["zero_shot"] = evaluate(frozen, head, test); print(res, flush=True)
    for n in (5, 15):
        for seed in (0,):
            shots, rest, test = few_shot_split(ds, SETS[left], n, seed)
            d = make_crops(frozen, shots, (0.8, 1.0, 1.25), np.random.default_rng(seed), per_area=1.0, cap=8)
            h2 = Head(sim=sim); h2.load_state_dict(head.state_dict())
            ft = train(h2, d, 300, 5e-4, batch=8, log=f"ft{n}")
            res[f"ft{n}_s{seed}"] = (evaluate(frozen, h2, test), ft, len(d[0]))
            h3 = Head(sim=sim); set_norm(h3, d[0]); sc = train(h3, d, 600, 2e-3, batch=8, log=f"scratch{n}")
            res[f"scratch{n}_s{seed}"] = (evaluate(frozen, h3, test), sc)
            print(res, flush=True)
    json.dump(res, open(f"/tmp/s4_{left}_{sim}.json", "w"))
