"""PERF.md from the results: targets met or missed, one part per section, and the findings."""

from __future__ import annotations

from pathlib import Path

from .config import REPORT, TARGETS


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def targets(results: dict) -> list[tuple[str, str, str, bool | None, str]]:
    """(target, goal, measured, met, margin) rows."""
    rows = []
    inference = results.get("inference", {})
    size = inference.get("sizes", {}).get("1024")
    if size:
        yardstick_fp32 = results["yardstick"]["fp32"] if "yardstick" in results else \
            results["matmul"]["fp32"]["flops_per_s"]
        eff = size["ours_fp32"]["efficiency"]
        rows.append(("fp32 CPU inference at 1024², share of measured fp32 matmul FLOP/s", "≥ 80 %",
                     f"{eff:.0%} ({size['ours_fp32']['flops_per_s'] / 1e9:.0f} of "
                     f"{yardstick_fp32 / 1e9:.0f} GFLOP/s)",
                     eff >= TARGETS["fp32_efficiency_1024"],
                     f"{(eff - TARGETS['fp32_efficiency_1024']) * 100:+.0f} points"))
        speed = size["speedup_bf16_vs_fp32"]
        rows.append(("bf16 inference speed-up over fp32 at 1024²", "≥ 1.5×", f"{speed:.2f}×",
                     speed >= TARGETS["bf16_speedup"], f"{speed / TARGETS['bf16_speedup']:.2f} of the goal"))
    accuracy = results.get("accuracy")
    if accuracy:
        change = accuracy["max_relative_change"]
        rows.append(("bf16 count change on real vgg + mbm images (max)", "< 0.5 %", f"{change:.3%}",
                     change < TARGETS["bf16_count_change"], accuracy["model"]))
    training = results.get("training")
    if training:
        speed = training["speedup_per_epoch"]
        rows.append(("stage-2 training per epoch, cached vs recomputed features", "≥ 20×", f"{speed:.0f}×",
                     speed >= TARGETS["training_speedup"],
                     f"{training['speedup_amortised']:.0f}× with the one-time cache "
                     f"amortised over {training['default_stage2_epochs']} epochs"))
    app = results.get("app")
    if app and "visible_median_s" in app:
        rows.append(("launch to visible window", "< 1 s", fmt_s(app["visible_median_s"]),
                     app["visible_median_s"] < TARGETS["window_visible_s"], "median of the runs"))
        rows.append(("launch to first count of a 256² image", "< 4 s", fmt_s(app["first_count_median_s"]),
                     app["first_count_median_s"] < TARGETS["first_count_s"], "median of the runs"))
    elif app:
        rows.append(("app start", "< 1 s / < 4 s", "not measured", None, str(app.get("runs", ""))[:200]))
    memory = results.get("memory", {})
    big = memory.get("big")
    if big and "peak_rss_mb" in big:
        peak = big["peak_rss_mb"] / 1024
        rows.append((f"peak memory counting a {big['size']}² image", "< 3 GB", f"{peak:.2f} GB",
                     peak < TARGETS["peak_8192_gb"] and big["size"] >= 8192,
                     f"whole process RSS peak, tile {big['tile_size']}"))
    folder = memory.get("folder")
    if folder and "rss_mb" in folder:
        rss = folder["rss_mb"]
        keys = sorted(rss, key=int)
        first = next((k for k in keys if int(k) >= 100), keys[0])
        growth = rss[keys[-1]] - rss[first]
        rows.append((f"{folder['images']} images, memory flat", "no growth",
                     ", ".join(f"{k}: {rss[k]:.0f} MB" for k in keys if k in ("100", "500", "1000") or k == keys[-1]),
                     abs(growth) < 50, f"{growth:+.0f} MB from image {first} to {keys[-1]}"))
    return rows


def write_report(results: dict, path: Path = REPORT) -> None:
    info = results["machine"]
    states = results.get("states", [])
    busy = [s for s in states if not s.get("quiet", True)]
    lines = ["# Performance of CountXplain Desktop", "",
             f"Measured by `python benchmarks/perf.py` on {results['finished']} (UTC); every number is in "
             f"`benchmarks/results/perf.json`. Run options: `{' '.join(results.get('argv', [])) or '(none)'}`."
             + "".join(f" Measured again from {m['started']} to {m.get('finished', '?')} with `{' '.join(m['argv'])}`: "
                       f"{', '.join(m['sections'])} (these sections' numbers are from then)."
                       for m in results.get("merged", [])), "",
             f"Machine: {info['cpu']}, {info['cores']} cores ({info['torch_threads']} torch threads), "
             f"{info['memory_gb']} GB, torch {info['torch']} ({info['cpu_capability']}, "
             f"AVX-512 BF16: {'yes' if info['avx512_bf16'] else 'no'}), GPU: {info['cuda'] or 'none'}.", ""]
    if busy:
        lines += ["**Machine state: NOT quiet.** Other processes used the CPU during part of this run (average "
                  "share of a core over the section), so those timings are slower and noisier than this machine "
                  "can do:", ""]
        for s in busy:
            procs = "; ".join(f"pid {p['pid']} {p['cpu_percent']} % `{p['command'][:70]}`"
                              for p in s["competitors"][:3])
            lines.append(f"* {s['section']} ({s['start']}, {s['seconds']:.0f} s): {procs}")
        lines.append("")
    else:
        lines += [f"Machine state: quiet (no other process averaged more than 10 % of a core during any of the "
                  f"{len(states)} sections).", ""]
    lines += ["## Targets", "", "| target | goal | measured | met | note |", "|---|---|---|---|---|"]
    for name, goal, measured, met, note in targets(results):
        mark = "n/a" if met is None else ("**yes**" if met else "**no**")
        lines.append(f"| {name} | {goal} | {measured} | {mark} | {note} |")
    lines.append("")

    matmul = results.get("matmul")
    if matmul:
        lines += ["## Yardstick: matrix multiply", "",
                  f"`torch.mm` of square matrices (n = 2048 and 4096 at the start and end, n = 4096 beside each "
                  f"inference size), fastest run of each sample: fp32 at the start "
                  f"{matmul['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, bf16 "
                  f"{matmul['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s."]
        yard = results.get("yardstick")
        if yard:
            lines.append("All fp32 samples: " + ", ".join(f"{v / 1e9:.0f}" for v in yard["fp32_samples"])
                         + " GFLOP/s; bf16: " + ", ".join(f"{v / 1e9:.0f}" for v in yard["bf16_samples"])
                         + f" GFLOP/s. **Efficiencies below divide by the best of them: fp32 {yard['fp32'] / 1e9:.0f}, "
                         f"bf16 {yard['bf16'] / 1e9:.0f} GFLOP/s.**")
        end = results.get("matmul_end")
        if end:
            lines.append(f"Measured again after all sections: fp32 {end['fp32']['flops_per_s'] / 1e9:.0f} GFLOP/s, "
                         f"bf16 {end['bf16']['flops_per_s'] / 1e9:.0f} GFLOP/s.")
        lines.append("")

    inference = results.get("inference")
    if inference:
        check = inference["flop_check"]
        lines += ["## Inference", "",
                  f"One image at a time on `{inference['device']}`. FLOPs are 2 × the multiply-accumulates of every "
                  f"convolution plus the head's 1×1 convolutions and prototype cross term, from the layer shapes "
                  f"(at {check['size']}²: analytic {check['analytic'] / 1e9:.2f} GFLOP, `FlopCounterMode` "
                  f"{check['flop_counter_mode'] / 1e9:.2f} GFLOP). Achieved FLOP/s = useful FLOPs of the image / "
                  f"latency (the counter's tile margins, {inference['tile_margin']} px around "
                  f"{inference['tile_size']} px tiles, are extra work not credited). Efficiency = achieved / "
                  f"measured fp32 matmul FLOP/s (for bf16 also against fp32 matmul, as the goal compares with fp32). "
                  f"Latency is the fastest of the timed runs after a warm-up (all runs are in perf.json). "
                  f"Above 100 % means the network's convolutions (oneDNN's AVX-512 kernels) run faster than "
                  f"`torch.mm` (MKL sgemm) does on this AMD CPU: the yardstick is that measured rate, not the "
                  f"hardware's peak.",
                  "", "Reference = eager fp32, contiguous NCHW, autograd on, whole image in one pass. "
                  "Ours = `Counter(bundle, 'cpu').count(pixels)` end to end (numpy in, density out).", "",
                  "| size | GFLOP | reference | ours fp32 | ours bf16 | fp32 GFLOP/s (eff.) | bf16 GFLOP/s | "
                  "fp32 vs ref | bf16 vs ref | bf16 vs fp32 | images/s fp32 / bf16 |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for size, row in inference["sizes"].items():
            lines.append(
                f"| {size}² | {row['flops']['total'] / 1e9:.1f} | {fmt_s(row['reference']['latency_s'])} | "
                f"{fmt_s(row['ours_fp32']['latency_s'])} | {fmt_s(row['ours_bf16']['latency_s'])} | "
                f"{row['ours_fp32']['flops_per_s'] / 1e9:.0f} ({row['ours_fp32']['efficiency']:.0%}) | "
                f"{row['ours_bf16']['flops_per_s'] / 1e9:.0f} | {row['speedup_fp32_vs_reference']:.2f}× | "
                f"{row['speedup_bf16_vs_reference']:.2f}× | {row['speedup_bf16_vs_fp32']:.2f}× | "
                f"{row['ours_fp32']['images_per_s']:.2f} / {row['ours_bf16']['images_per_s']:.2f} |")
        lines += ["", "Counts of the benchmark image (reference / ours fp32 / ours bf16): " + "; ".join(
            f"{s}²: {r['count_reference']:.2f} / {r['count_fp32']:.2f} / {r['count_bf16']:.2f}"
            for s, r in inference["sizes"].items()) + ". (At 2048² the counter tiles; the reference does not.)", ""]
        variants = inference.get("variants")
        if variants:
            lines += [f"### Execution paths at {variants['size']}² (whole network, input tensor ready, one by one)", "",
                      "| path | latency | GFLOP/s | of fp32 mm | of own-dtype mm | vs reference | note |",
                      "|---|---|---|---|---|---|---|"]
            for row in variants["rows"].values():
                if "error" in row:
                    lines.append(f"| {row['label']} | failed | | | | | {row['error']} |")
                    continue
                note = f"set-up {row['setup_s']:.1f} s" if "setup_s" in row else ""
                lines.append(f"| {row['label']} | {fmt_s(row['latency_s'])} | {row['flops_per_s'] / 1e9:.0f} | "
                             f"{row['efficiency']:.0%} | {row['efficiency_vs_own_matmul']:.0%} | "
                             f"{row.get('speedup_vs_reference', float('nan')):.2f}× | {note} |")
            lines.append("")
            layers = variants.get("layers")
            if layers:
                total = sum(r["seconds"] for r in layers)
                lines += [f"Where the fp32 time goes at {variants['size']}² (each fused conv+ReLU timed alone; "
                          f"sum {fmt_s(total)}):", "", "| layer | output | time | share | of fp32 mm |",
                          "|---|---|---|---|---|"]
                for r in layers:
                    eff = f"{r['efficiency']:.0%}" if r["efficiency"] else ""
                    lines.append(f"| {r['layer']} | {'×'.join(map(str, r['output']))} | {fmt_s(r['seconds'])} | "
                                 f"{r['seconds'] / total:.0%} | {eff} |")
                lines.append("")

    accuracy = results.get("accuracy")
    if accuracy:
        lines += ["## bf16 accuracy on real images", "", f"Model: {accuracy['model']}. Images counted at each set's "
                  "median nearest-neighbour dot spacing as cell diameter.", "",
                  "| set | images | cell diameter | mean change | max change | MAE fp32 | MAE bf16 | bf16 speed-up |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, s in accuracy["sets"].items():
            lines.append(f"| {name} | {len(s['images'])} | {s['cell_diameter_px']:.1f} px | "
                         f"{s['mean_relative_change']:.3%} | {s['max_relative_change']:.3%} | {s['mae_fp32']:.2f} | "
                         f"{s['mae_bf16']:.2f} | {s['speedup_bf16']:.2f}× |")
        lines += ["",
                  f"`Counter(precision='auto')` chose **{accuracy['auto_choice']}** here ({accuracy['auto_reason']}).",
                  ""]

    training = results.get("training")
    if training:
        lines += ["## Stage-2 training", "",
                  f"{training['train_images']} vgg training images × 2 views = {training['views']} views, batch "
                  f"{training['batch']} ({training['steps_per_epoch']} steps per epoch), {training['crop_px']} px "
                  "crops.",
                  "",
                  f"* Ours (`countxplain.training.Trainer`, head on cached features): "
                  f"{fmt_s(training['ours_epoch_s'])} per epoch, after a one-time "
                  f"{fmt_s(training['ours_one_time_cache_s'])} to cache the frozen features.",
                  f"* Reference (same head, losses, batches; frozen extractor recomputed on every batch, eager fp32 "
                  f"NCHW, autograd on): {fmt_s(training['reference_epoch_s'])} per epoch.",
                  f"* Speed-up per epoch: **{training['speedup_per_epoch']:.0f}×**; counting the one-time cache over "
                  f"the default {training['default_stage2_epochs']} epochs: {training['speedup_amortised']:.0f}×.", ""]

    app = results.get("app")
    if app:
        lines += ["## App start", "", "`benchmarks/app_start.py` runs the real entry point `cxdesktop.app.main` "
                  "(offscreen Qt, empty settings folder) in a fresh process with a 256² PNG to open; times are from "
                  "the moment the parent started the process.", ""]
        if "first_count_median_s" in app:
            lines += ["| run | interpreter + imports (script start) | GUI modules imported | window visible | "
                      "model loaded | first count |", "|---|---|---|---|---|---|"]
            for i, run in enumerate(app["runs"], 1):
                if run.get("error"):
                    lines.append(f"| {i} | error: {run['error'][:100]} | | | | |")
                    continue
                s = run["since_launch_s"]
                lines.append(f"| {i} | {fmt_s(s.get('script'))} | {fmt_s(s.get('gui_modules_imported'))} | "
                             f"{fmt_s(s.get('visible'))} | {fmt_s(s.get('model_loaded'))} | "
                             f"{fmt_s(s.get('first_count'))} |")
        else:
            lines.append(f"Not measured: {app.get('runs')}")
        lines.append("")

    memory = results.get("memory")
    if memory:
        lines += ["## Memory", ""]
        big = memory.get("big", {})
        if "peak_rss_mb" in big:
            lines += [f"Counting a {big['size']}² PNG (read with `read_image`, counted with `Counter` fp32, tile "
                      f"{big['tile_size']} + margin {big['tile_margin']}) in a fresh process: peak RSS "
                      f"**{big['peak_rss_mb'] / 1024:.2f} GB** (after loading the model "
                      f"{big['rss_model_loaded_mb']:.0f} MB; "
                      f"peak while reading {big['peak_rss_after_read_mb']:.0f} MB; the float image alone is "
                      f"{big['image_float_mb']:.0f} MB); count {big['count']:.1f} in {big['seconds']:.0f} s.", ""]
        elif big:
            lines += [f"Big image: {big.get('error')}", ""]
        folder = memory.get("folder", {})
        if "rss_mb" in folder:
            lines += [f"Counting a folder of {folder['images']} PNGs of 128² one after another in a fresh process "
                      f"(read, count, keep the count): RSS after n images: "
                      + ", ".join(f"{k}: {v:.0f} MB" for k, v in folder["rss_mb"].items())
                      + f"; peak {folder['peak_rss_mb']:.0f} MB; {folder['seconds']:.0f} s in all.", ""]
        elif folder:
            lines += [f"Folder: {folder.get('error')}", ""]

    lines += scale_out_section(path.parent / "results" / "scale_out.json")
    lines += gpu_check_section(path.parent / "results" / "gpu_check.json")
    lines += ["## What helps, and what `countxplain.inference` does", ""] + findings(results) + [""]
    path.write_text("\n".join(lines) + "\n")


def scale_out_section(path: Path) -> list[str]:
    """Counting on local Dask clusters against the plain loop (``benchmarks/scale_out.py``)."""
    import json

    lines = ["## Scale-out", ""]
    if not path.exists():
        return lines + ["Not measured yet (`benchmarks/scale_out.py`).", ""]
    result = json.loads(path.read_text())
    machine = result["machine"]
    lines += [f"`benchmarks/scale_out.py`, {result['started']}: {result['images']} dsb2018 images "
              f"({', '.join(result['image_sides'])}), shipped model, cell size auto, one view, on {machine['cpu']} "
              f"({machine['isa']}), {result['cpus_usable']} CPU(s) usable, one torch thread per process. "
              "Times after warm-up (model loaded, one image counted on each worker); start-up apart.", "",
              "| engine | images/s | wall | start-up | memory per worker |", "|---|---|---|---|---|"]
    local = result["local"]
    lines.append(f"| local loop | {local['images_per_s']:.2f} | {local['wall_s']:.1f} s | {local['start_s']:.1f} s | "
                 "(this process) |")
    for run in result["clusters"]:
        rss = ", ".join(f"{value:.0f}" for value in run["worker_rss_mib"])
        lines.append(f"| Dask, {run['workers']} worker(s) x 1 thread | {run['images_per_s']:.2f} | "
                     f"{run['wall_s']:.1f} s | {run['start_s']:.1f} s | {rss} MiB |")
    lines += ["", f"Engine overhead per image (1 worker against the local loop): "
              f"{result['overhead_per_image_s'] * 1000:.0f} ms. Largest count difference from the local loop: "
              f"{result['worst_count_difference']:.2g}.", ""]
    if result["cpus_usable"] < max(run["workers"] for run in result["clusters"]):
        lines += ["More workers than usable CPUs share them: their rate shows the engine's cost, not a speed-up.",
                  ""]
    return lines


def gpu_check_section(path: Path) -> list[str]:
    """The prepared accelerator check's results (``benchmarks/gpu_check.sh``), one paragraph per device."""
    import json

    lines = ["## Accelerator check (`benchmarks/gpu_check.sh`)", ""]
    if not path.exists():
        return lines + ["Not run on a GPU yet.", ""]
    for device, row in json.loads(path.read_text()).items():
        verdict = ", ".join(f"{name} {'passed' if row.get(name, {}).get('passed') else 'FAILED'}"
                            for name in ("devices", "agreement", "speed", "fine_tune"))
        lines.append(f"**{device}** ({row.get('gpu') or row.get('machine')}, torch {row.get('torch')}, "
                     f"{row.get('started')}): {verdict}.")
        agreement = row.get("agreement", {}).get("by_precision", {})
        if agreement:
            lines.append("Largest count difference from the CPU's fp32 counts: " + "; ".join(
                f"{name} {r['worst_relative_difference']:.3%}" if "worst_relative_difference" in r
                else f"{name}: {r.get('error')}" for name, r in agreement.items()) + ".")
        speed = row.get("speed", {}).get("sizes", {})
        if speed:
            lines.append("Counting (fp32, median): "
                         + ", ".join(f"{size}² {r['median_s']:.3f} s" for size, r in speed.items()) + ".")
        tune = row.get("fine_tune", {})
        if tune.get("seconds") is not None:
            lines.append(f"A short fine-tune on {tune['images']} annotated samples: {tune['seconds']:.0f} s.")
        lines.append("")
    return lines


def findings(results: dict) -> list[str]:
    """What the execution-path table says, in sentences, and what ``Counter`` therefore does."""
    rows = results.get("inference", {}).get("variants", {}).get("rows", {})

    def speedup(new: str, old: str) -> str:
        """time(old) / time(new): above 1× the new path is faster."""
        a, b = rows.get(new, {}).get("latency_s"), rows.get(old, {}).get("latency_s")
        return f"{b / a:.2f}×" if a and b else "n/a"

    out = []
    if rows:
        compile_note = (f" (after {rows['compile']['setup_s']:.0f} s of compiling for this one input shape)"
                        if "setup_s" in rows.get("compile", {}) else "")
        out += ["Speed-ups below are time(old) / time(new) from the table above: above 1× the new path is faster.",
                "",
                f"* `inference_mode` instead of autograd: {speedup('inference_mode', 'reference')}; channels-last "
                f"instead of NCHW (both under `inference_mode`): {speedup('channels_last', 'inference_mode')}.",
                f"* Over channels-last eager (what `Counter` runs in fp32): conv+ReLU fused into one oneDNN call "
                f"{speedup('fused', 'channels_last')}; oneDNN blocked layout with prepacked weights "
                f"(`torch.utils.mkldnn`) {speedup('mkldnn', 'channels_last')}; `torch.jit.freeze` + "
                f"`optimize_for_inference` {speedup('jit_freeze', 'channels_last')}; `torch.compile` with freezing "
                f"{speedup('compile', 'channels_last')}{compile_note}.",
                f"* One thread instead of {results['machine']['torch_threads']}: "
                f"{speedup('threads_1', 'channels_last')}.",
                f"* bf16 over fp32 channels-last eager: autocast (what `precision='bf16'` did before) "
                f"{speedup('bf16_autocast', 'channels_last')}; a bf16 copy of the weights (what `Counter` runs now) "
                f"{speedup('bf16_weights', 'channels_last')}; the copy with conv+ReLU fused "
                f"{speedup('bf16_fused', 'channels_last')}; blocked layout {speedup('bf16_mkldnn', 'channels_last')}. "
                f"The copy over autocast: {speedup('bf16_weights', 'bf16_autocast')}."]
    out += ["", "So `countxplain.inference.Counter` now does (public API unchanged):", ""] + COUNTER_NOTES
    return out


COUNTER_NOTES = [
    "* fp32: `torch.inference_mode` and channels-last tensors, as before; on this CPU that already runs at "
    "the `torch.mm` rate, and none of the other paths gains enough to pay for its cost (below).",
    "* bf16 on the CPU: the extractor runs on a bfloat16 copy of its weights (made once, at the first bf16 "
    "count; 33 MB), except the first convolution, which stays fp32 (rounding the normalised input to bf16 "
    "caused most of the count change: max 0.67 % on the vgg images above before, under 0.1 % after, for 2 % "
    "of the time), instead of under autocast, which casts all 16 weight tensors again on every call (its "
    "weight cache is off under `inference_mode`). On a quiet CPU the two are equally fast; in an earlier run "
    "of this script beside another busy process the copy was 1.07× faster than autocast at 1024². The "
    "prototype head always runs in fp32.",
    "* `precision='auto'` (new): bf16 only where the device has native bf16 (AVX-512 BF16 / AMX, or a CUDA "
    "GPU with bf16) and the bf16 count of the model's gallery patches is within 0.5 % of fp32; otherwise "
    "fp32. The default stays fp32.",
    "* Not adopted: fused conv+ReLU (no measurable gain; an internal op), the blocked layout and "
    "`torch.jit.freeze` (a one-time conversion and a 65 MB weight copy on the first count, for a few per "
    "cent; `jit` is deprecated), `torch.compile` (its set-up per image shape is longer than a count, and "
    "every new tile shape compiles again), fewer threads.",
]
