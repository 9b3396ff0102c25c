"""RESULTS.md's section on the default model's explanation quality (benchmarks/explanation_quality.py):
purity with its intervals, faithfulness and diversity, the boxes at the image border and at each edge, where
the impure cell boxes lie against the density maps' own boxes and the training target's, the model counted
on whole cells (--fit-to-stride) and with its maps averaged over mirror images (--flips 4), and the
top-location screen (results/top_location.json)."""

from __future__ import annotations


def explanation_quality_section(explanations: dict | None, whole_cells: dict | None,
                                flipped: dict | None = None, whole_flipped: dict | None = None) -> list[str]:
    """From explanations.json and, when measured, explanations_whole_cells.json, explanations_flips4.json
    and explanations_whole_cells_flips4.json."""
    lines = ["", "## Explanation quality of the default model (`benchmarks/explanation_quality.py`)", ""]
    if explanations:
        lines += ["Cell size: each set's training spacing for vgg, mbm and adi; each image's own dot spacing for "
                  "dsb2018 "
                  "(an oracle). Every connected component of the top-1 % similarity pixels is a box; boxes are drawn "
                  "at least one similarity-map cell wide (as in the app and the explanation figure); the regions' "
                  "own extents, often slivers of a few pixels, are in the last two columns. In brackets: the 95 % "
                  "interval of a purity when whole test images are resampled (bootstrap), a guide to how far two "
                  "models' purities may differ by the images drawn alone.", "",
                  "| set | images | cell-box purity | background-box purity | drop, prototype boxes erased | drop, "
                  "random boxes "
                  "| Wilcoxon p (one-sided) | cell purity, raw regions | background purity, raw regions |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, row in explanations["sets"].items():
            def fmt(v, f):
                return "n/a" if v is None else format(v, f)

            lines.append(f"| {name} | {row['n_images']} | {row['cell_box_purity']:.1%}{interval(row, 'cell')} "
                         f"({row['cell_boxes']} boxes) | "
                         f"{row['background_box_purity']:.1%}{interval(row, 'background')} "
                         f"({row['background_boxes']} boxes) | "
                         f"{fmt(row['mean_drop_prototype_boxes'], '.2f')} | "
                         f"{fmt(row['mean_drop_random_boxes'], '.2f')} | "
                         f"{fmt(row['wilcoxon_p'], '.2g')} | {region_purity(row, 'cell')} | "
                         f"{region_purity(row, 'background')} |")
        lines += border_purity_section(explanations["sets"])
        lines += edge_purity_section(explanations["sets"])
        lines += impure_cell_box_section(explanations["sets"])
        lines += target_bound_section(explanations["sets"])
        d = explanations["diversity"]
        lines += ["", f"Prototype diversity (L2 distance in the prototype space): cell min {d['cell']['min']:.3f}, "
                  f"mean {d['cell']['mean']:.3f}; background min {d['background']['min']:.3f}, mean "
                  f"{d['background']['mean']:.3f}."]
        lines += stride_fit_section(explanations, whole_cells)
        lines += flips_section(explanations, flipped, whole_flipped)
    else:
        lines.append("Not measured yet.")
    return lines


def interval(row: dict, group: str) -> str:
    bounds = (row.get("purity_interval") or {}).get(group)
    return "" if not bounds else f" [{bounds[0]:.1%}–{bounds[1]:.1%}]"


def purity_text(tally: dict, group: str) -> str:
    """'cell' or 'background' purity of a ``PurityTally.summary()``, with its number of boxes."""
    return f"{tally[group]:.1%} ({tally[group + '_boxes']} boxes)"


def region_purity(row: dict, group: str) -> str:
    region = row.get("region_purity")
    return "not measured" if region is None else purity_text(region, group)


def box_table(sets: dict, key: str, intro: str, columns: list[str], cells) -> list[str]:
    """A table of the sets whose explanation rows have ``key``: one row of ``cells(row[key], row)`` each."""
    rows = {name: row for name, row in sets.items() if row.get(key)}
    if not rows:
        return []
    lines = ["", intro, "", "| set | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cells(row[key], row)) + " |" for name, row in rows.items()]
    return lines


def border_purity_section(sets: dict) -> list[str]:
    """Purity of the drawn boxes that reach within one similarity-map cell of the image border."""
    def share(border, row, group):
        return f"{border[group + '_boxes'] / max(row[group + '_boxes'], 1):.0%}"

    return box_table(
        sets, "border_purity",
        "Boxes at the image border (reaching within one similarity-map cell of the edge, where the network "
        "sees the padding beyond the image), their purity and their share of all drawn boxes:",
        ["cell boxes at the border: purity", "share of cell boxes", "background boxes at the border: purity",
         "share of background boxes"],
        lambda border, row: [purity_text(border, "cell"), share(border, row, "cell"),
                             purity_text(border, "background"), share(border, row, "background")])


def edge_purity_section(sets: dict) -> list[str]:
    """Purity of the drawn boxes at the right or bottom edge (whose last cells also hold the padding that
    rounds the image up to whole cells) against those at the left or top edge only."""
    return box_table(
        sets, "edge_purity",
        "The same boxes split by edge: the last row and column of cells also hold the padding that rounds "
        "the image up to whole 8-pixel cells, the first ones do not:",
        ["cell boxes, right or bottom edge", "cell boxes, left or top edge only",
         "background boxes, right or bottom edge", "background boxes, left or top edge only"],
        lambda edges, row: [purity_text(edges["right_or_bottom"], "cell"), purity_text(edges["left_or_top_only"],
                                                                                       "cell"),
                            purity_text(edges["right_or_bottom"], "background"),
                            purity_text(edges["left_or_top_only"], "background")])


def impure_cell_box_section(sets: dict) -> list[str]:
    """Where the impure cell boxes lie (nearest dot, in cell spacings), the same components drawn one
    cell spacing wide, and the density map's own boxes."""
    def share(value):
        return "n/a" if value is None else f"{value:.0%}"

    def spacings(value):
        return "n/a" if value is None else f"{value:.2f}"

    lines = box_table(
        sets, "impure_cell_boxes",
        "Where the impure cell boxes lie: the distance from each one's centre to the nearest annotated dot, in "
        "cell spacings (the cell size the image was counted at; a drawn box is one map cell, 0.8 of a spacing, "
        "wide); the purity of the same components drawn at least one cell spacing wide; and, for reference, "
        "the same boxes drawn on the model's density map (its top-1 % pixels, one map cell wide, scored as cell "
        "boxes), which is the weighted sum of the prototypes' similarity maps, and on the density of the CSRNet "
        "output layer that stage 1 trained on the same features:",
        ["impure cell boxes", "median distance to the nearest dot", "nearest dot within one spacing",
         "cell-box purity, boxes one spacing wide", "background-box purity, boxes one spacing wide",
         "density-map boxes holding a dot", "CSRNet density-map boxes holding a dot"],
        lambda misses, row: [str(misses["boxes"]), spacings(misses["median_spacings"]),
                             share(misses["within_one_spacing"]),
                             purity_text(row["cell_wide_purity"], "cell"),
                             purity_text(row["cell_wide_purity"], "background"), density_text(row,
                                                                                              "density_box_purity"),
                             density_text(row, "csrnet_density_box_purity")])
    measured = {name: row for name, row in sets.items() if row.get("density_box_purity")}
    if lines and measured:
        pairs = ", ".join(f"{name} {row['cell_box_purity']:.1%} against {row['density_box_purity']['purity']:.1%}"
                          for name, row in measured.items())
        near = [row["impure_cell_boxes"]["within_one_spacing"] for row in measured.values()
                if row.get("impure_cell_boxes", {}).get("within_one_spacing") is not None]
        span = f"{min(near):.0%}-{max(near):.0%} of them" if near else "most of them"
        lines += ["", "What this shows. An impure cell box is nearly always within one cell spacing of an annotated "
                  f"dot ({span}), not out in the background: its centre lies a median of about 0.6 spacings from "
                  "the nearest dot, beyond the 0.4 spacing that half a drawn box reaches. The cell prototypes' boxes "
                  f"hold a dot about as often as the density map's own strongest regions do ({pairs}), and the CSRNet "
                  "output layer's density, which has no prototypes, does no better"
                  f"{stage1_text(measured)}. At 8-pixel resolution the strongest output of the counting network "
                  "itself falls that often on a neighbouring cell or between two touching cells; that, more than "
                  "the head, is what keeps cell boxes below 95 %."]
    return lines


def target_bound_section(sets: dict) -> list[str]:
    """The same boxes drawn on the training target itself: what a perfect density regressor would reach."""
    measured = {name: row for name, row in sets.items() if row.get("target_density_box_purity")}
    if not measured:
        return []
    sigmas = [entry["sigma_px"] for entry in next(iter(measured.values()))["target_density_box_purity"]]
    lines = box_table(
        measured, "target_density_box_purity",
        "What a perfect density regressor would reach: the same boxes (top-1 % pixels of the upsampled map, one "
        "map cell wide, scored as cell boxes) drawn on the training target itself, the annotated dots' density "
        "pooled into the output cells of each image as it was counted, at the model's training sigma and at "
        "sharper ones; beside the model's own density map and its cell prototypes:",
        ["cell-prototype boxes",
         "model's density-map boxes"] + [f"target boxes, sigma {sigma:g} px" for sigma in sigmas],
        lambda targets, row: [f"{row['cell_box_purity']:.1%}", density_text(row, "density_box_purity")]
                             + [f"{entry['purity']:.1%} ({entry['boxes']} boxes)" for entry in targets])
    trained = sigmas[0]
    at_trained = {name: row["target_density_box_purity"][0]["purity"] for name, row in measured.items()}
    sharpest = {name: max(entry["purity"] for entry in row["target_density_box_purity"]) for name,
                row in measured.items()}

    def listing(values):
        return ", ".join(f"{name} {value:.1%}" for name, value in values.items())

    gaps = ", ".join(f"{name} {100 * (at_trained[name] - row['density_box_purity']['purity']):.1f}"
                     for name, row in measured.items() if row.get("density_box_purity"))
    lines += ["", f"What this shows. The training target at sigma {trained:g} px is itself {listing(at_trained)} "
              "pure by this measure: where two cells touch, their blurred dots add up in an output cell that holds "
              "neither, so even an exact regressor of that target would draw some boxes off the dots"
              + (f" (below 95 % on {', '.join(n for n, v in at_trained.items() if v < 0.95)})"
                 if any(v < 0.95 for v in at_trained.values()) else "")
              + f". Sharper targets leave less of that ({listing(sharpest)} at best)."
              + (f" The model's own density map is {gaps} points below the target at sigma {trained:g} px: most of "
                 "the gap to 95 % is how closely the network localises its output, not how boxes are made."
                 if gaps else "")]
    ideal = {name: row["ideal_background_box_purity"] for name, row in measured.items()
             if row.get("ideal_background_box_purity")}
    if ideal:
        lines += ["", "Background boxes have a bound of their own: the same boxes drawn on an ideal background map, "
                  "each output cell's distance to the nearest annotated dot, and scored as background boxes, are "
                  + ", ".join(f"{name} {value['purity']:.1%} ({value['boxes']} boxes)" for name, value in ideal.items())
                  + " pure, against the background prototypes' "
                  + ", ".join(f"{name} {measured[name]['background_box_purity']:.1%}" for name in ideal) + "."]
    return lines


def stage1_text(sets: dict) -> str:
    values = [f"{name} {row['csrnet_density_box_purity']['purity']:.1%}" for name, row in sets.items()
              if row.get("csrnet_density_box_purity")]
    return f" ({', '.join(values)})" if values else ""


def density_text(row: dict, key: str) -> str:
    density = row.get(key)
    return "not measured" if not density else f"{density['purity']:.1%} ({density['boxes']} boxes)"


def stride_fit_section(plain: dict | None, fitted: dict | None) -> list[str]:
    """The shipped model counted as it was trained (rounding padding) and resized to whole cells."""
    if not plain or not fitted:
        return []
    lines = ["", "### Counted on whole cells (`explanation_quality.py --fit-to-stride`)", "",
             "The shipped model, unchanged, counting each image resized so both sides are whole 8-pixel cells "
             "(each axis within half a cell of the scale) instead of padded up to them; same images, "
             "MAE of those images:", "",
             "| set | images | MAE, padded / whole cells | cell-box purity, padded / whole cells "
             "| background-box purity, padded / whole cells |", "|---|---|---|---|---|"]
    for name, row in fitted["sets"].items():
        before = plain["sets"].get(name)
        if not before or before.get("mae") is None or before["n_images"] != row["n_images"]:
            continue
        lines.append(f"| {name} | {row['n_images']} | {before['mae']:.2f} / {row['mae']:.2f} | "
                     f"{before['cell_box_purity']:.1%} / {row['cell_box_purity']:.1%} | "
                     f"{before['background_box_purity']:.1%} / {row['background_box_purity']:.1%} |")
    return lines


def flips_section(plain: dict | None, flipped: dict | None, whole_flipped: dict | None = None) -> list[str]:
    """The shipped model with its maps averaged over the image and its mirror images (--flips 4), as it
    was trained (padded to whole cells) and, when measured, resized to whole cells (--fit-to-stride)."""
    if not plain or not flipped:
        return []
    views = flipped.get("flips", 4)
    runs = [("1 view", plain), (f"{views} views", flipped)]
    if whole_flipped:
        runs.append((f"{views} views on whole cells", whole_flipped))
    heading = " / ".join(label for label, _ in runs)
    lines = ["", f"### Maps averaged over {views} views (`explanation_quality.py --flips {views}`)", "",
             f"The shipped model, unchanged, with every density and similarity map the mean over the image and "
             f"its {views - 1} mirror images, each flipped back into place (`countxplain count/explain --flips "
             f"{views}`, the app's *Maps: {views} views*). Images padded up to whole cells are mirrored with their "
             "padding, so a mirrored view has it on the left or top, where the model never saw it in training; "
             "resized to whole cells (`--fit-to-stride`) there is none, which is why averaged views now always "
             "count on whole cells unless `--no-whole-cells` is given. Same images; " + heading + ":", "",
             "| set | images | MAE | cell-box purity | background-box purity | density-map boxes holding a dot |",
             "|---|---|---|---|---|---|"]

    def density(r):
        return f"{r['density_box_purity']['purity']:.1%}" if r.get("density_box_purity") else "n/a"

    for name, row in flipped["sets"].items():
        rows = [run["sets"].get(name) for _, run in runs]
        if any(r is None or r["n_images"] != row["n_images"] for r in rows):
            continue

        def join(cell, rows=rows):  # this set's rows, one per run
            return " / ".join(cell(r) for r in rows)

        lines.append(f"| {name} | {row['n_images']} | {join(lambda r: format(r['mae'], '.2f'))} | "
                     f"{join(lambda r: format(r['cell_box_purity'], '.1%'))} | "
                     f"{join(lambda r: format(r['background_box_purity'], '.1%'))} | {join(density)} |")
    best = runs[-1][1]["sets"]
    names = [n for n in best if n in plain["sets"] and plain["sets"][n]["n_images"] == best[n]["n_images"]]
    if names:
        up = [n for n in names for g in ("cell_box_purity",
                                         "background_box_purity") if best[n][g] > plain["sets"][n][g]]
        lower_mae = [n for n in names if best[n]["mae"] < plain["sets"][n]["mae"]]
        lines += ["", f"What this shows. With {runs[-1][0]}, {len(up)} of the {2 * len(names)} purities are higher "
                  f"than with 1 view, and the MAE is lower on {', '.join(lower_mae) or 'no set'}. Averaging over "
                  "mirror images, without retraining, puts the strongest responses on annotated dots more often; "
                  "cell boxes still stay below 95 %. It is a choice (`countxplain count/explain --flips 4`, on whole "
                  "cells; the app's Maps picker) at four times the time; the default counts 1 view as trained, as "
                  "every other table here was measured."]
    return lines


def top_location_section(rows: list | None) -> list[str]:
    """The stage-2 top-location term's weight and temperature against purity (results/top_location.json)."""
    if not rows:
        return []
    sets = list(rows[0]["purity"])
    lines = ["", "### Stage-2 top-location term (a finished experiment)", "",
             "Beyond the paper, not adopted by any recipe and since removed with its script (runs in "
             "`results/top_location.json`): `lambda_top_location` adds, for each prototype and training crop, minus "
             "the log of "
             "the softmax weight (over the crop's cells, of −log distance / temperature) that falls on its own kind "
             "of output cell, one holding a dot for cell prototypes and one holding none for background ones: a "
             "smooth share of pure top responses. Each head is trained from the shipped model's head and "
             "extractor on images resized to whole cells with nearest-pure projection (weight 0 is the candidate "
             "'shipped head trained on whole cells, nearest pure patches' below), the projection at the last epoch "
             "kept; purity (cell / background) on 20 test images per set.", "",
             "| weight | temperature | stage-2 epochs | validation MAE | term at the last epoch | "
             + " | ".join(sets) + " |", "|---|---|---|---|---|" + "---|" * len(sets)]
    for row in rows:
        term = "" if row.get("final_term") is None else f"{row['final_term']:.3f}"
        purity = [f"{row['purity'][n]['cell']:.1%} / {row['purity'][n]['background']:.1%}" for n in sets]
        lines.append(f"| {row['weight']:g} | {row['temperature']:g} | {row['epochs']} | {row['val_mae']:.2f} | {term} "
                     "| "
                     + " | ".join(purity) + " |")
    base = next((row for row in rows if row["weight"] == 0), None)
    weighted = [row for row in rows if row["weight"] > 0]
    if base and weighted:
        moves = []
        for name in sets:
            cells = [row["purity"][name]["cell"] - base["purity"][name]["cell"] for row in weighted]
            moves.append(f"{name} {min(cells) * 100:+.1f} to {max(cells) * 100:+.1f}")
        lines += ["", "What this shows. The term does what it is built for on the training crops (it falls as its "
                  "weight grows), but on the test images no weight moves cell-box purity on every set the same "
                  "way: against weight 0 it moves by " + ", ".join(moves) + " points, about the size of the "
                  "95 % intervals of 30 images above (mbm gains with every weight, vgg loses). That fits the "
                  "density-map reference above: a retrained head does not put its strongest responses on dots "
                  "much more often than the counting network's own density does. No head here is shipped."]
    return lines
