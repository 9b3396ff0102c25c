"""The model card a person reads: what the model is, what it was trained on, how it was made (preset,
parent model), how well it counts on held-back images, and what it is known not to do.

Built from what the model file records; a field an older file lacks is left out, never guessed.
The full record (every setting and the training history) is ``dialogs.model_card_html``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

CARD_FILE_NAME = "MODEL_CARD.md"  # a hand-written card shipped beside a model file (the bundled default)
FEW_TRAINING_IMAGES = 20
EXTRACTORS = {"csrnet": "CSRNet (VGG-16 frontend, dilated backend, 1/8 resolution)",
              "vgg-s4": "VGG-16 to conv3_3 at 1/4 resolution"}


def _esc(value) -> str:
    return html.escape(str(value))


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def what_it_is(info) -> str:
    extractor = EXTRACTORS.get(str(info.config.get("extractor", "")), info.config.get("extractor"))
    parts = [f"{info.k_cell} cell prototypes and {info.k_bg} background prototypes",
             f"trained at cells of {info.cell_diameter_px:g} px across"]
    if extractor:
        parts.insert(0, f"feature extractor {extractor}")
    created = info.provenance.get("created")
    made = f" Made {_esc(str(created)[:10])}." if created else ""
    return f"<p>{_esc('; '.join(parts))}.{made}</p>"


def training_data_html(provenance: dict) -> str:
    data = provenance.get("training_data")
    if not isinstance(data, dict):
        return "<p>The file does not record its training data.</p>"
    groups = data.get("groups") or []
    rows = []
    if groups:
        rows.append(("Data sets", ", ".join(str(g) for g in groups)))
    for key, label in (("n_train_images", "Training images"), ("n_validation_images", "Validation images")):
        if _number(data.get(key)) is not None:
            rows.append((label, f"{int(data[key])}"))
    if isinstance(data.get("images"), list) and data["images"]:
        names = [str(name) for name in data["images"]]
        rows.append(("Annotated images",
                     ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")))
    seconds = _number(provenance.get("training_seconds"))
    if seconds is not None:
        rows.append(("Training time", f"{seconds / 60:.1f} min"))
    return _table(rows) if rows else "<p>The file does not record its training data.</p>"


def provenance_html(provenance: dict) -> str:
    """The preset it was trained with, its changes to it, and the model it was fine-tuned from."""
    rows = []
    if provenance.get("preset"):
        rows.append(("Preset", str(provenance["preset"])))
    overrides = provenance.get("preset_overrides")
    if isinstance(overrides, dict) and overrides:
        rows.append(("Changed from the preset", ", ".join(f"{k} = {v}" for k, v in overrides.items())))
    parent = provenance.get("parent_model")
    if isinstance(parent, dict) and parent:
        described = str(parent.get("name") or "unnamed model")
        if parent.get("preset"):
            described += f" (preset {parent['preset']})"
        if parent.get("file"):
            described += f", file {parent['file']}"
        if parent.get("sha256"):
            described += f", SHA-256 {str(parent['sha256'])[:12]}…"
        rows.append(("Fine-tuned from", described))
    if not rows:
        return "<p>The file records no preset and no parent model (it was made before models recorded them).</p>"
    return _table(rows)


def accuracy_html(provenance: dict) -> str:
    """Validation MAE and the per-set test MAE table, where recorded."""
    metrics = provenance.get("metrics") if isinstance(provenance.get("metrics"), dict) else {}
    parts = []
    validation = [(label, _number(metrics.get(key))) for key, label in
                  (("stage1_val_mae", "stage 1"), ("val_mae", "final model"))]
    validation = [(label, value) for label, value in validation if value is not None]
    if validation:
        parts.append("<p>Validation MAE (cells per image): " +
                     ", ".join(f"{_esc(label)} <b>{value:.2f}</b>" for label, value in validation) + ".</p>")
    test = metrics.get("test") if isinstance(metrics.get("test"), dict) else {}
    rows = [_test_row(name, row) for name, row in test.items() if isinstance(row, dict)]
    if rows:
        head = "".join(f"<th align='left'>{h}</th>"
                       for h in ("Test set", "Images", "MAE", "RMSE", "Relative", "Cell size"))
        parts.append(f"<table cellspacing='0' cellpadding='3' border='1'><tr>{head}</tr>{''.join(rows)}</table>"
                     "<p><small>Test images were never used for training or for choosing the model.</small></p>")
    else:
        parts.append("<p>No test results are recorded: its error on held-back images is not known.</p>")
    return "".join(parts)


def _test_row(name: str, row: dict) -> str:
    def fmt(key, pattern):
        value = _number(row.get(key))
        return pattern.format(value) if value is not None else "–"

    cells = [_esc(name), fmt("n", "{:.0f}"), fmt("mae", "{:.2f}"), fmt("rmse", "{:.2f}"), fmt("relative_mae", "{:.1%}"),
             _esc(row.get("cell_size", "–"))]
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def shipped_limits(model_path: str) -> list[str]:
    """The 'Known limits' bullets of a MODEL_CARD.md beside the model file, if there is one."""
    if not model_path:
        return []
    card = Path(model_path).with_name(CARD_FILE_NAME)
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    section = re.search(r"^## Known limits\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    if section is None:
        return []
    return [line[2:].strip() for line in section.group(1).splitlines() if line.startswith("- ")]


def known_limits(info) -> list[str]:
    """Limits recorded in the file or shipped beside it, and those its record implies."""
    recorded = info.provenance.get("known_limits")
    limits = [str(item) for item in recorded] if isinstance(recorded, list) else shipped_limits(info.path)
    data = info.provenance.get("training_data") if isinstance(info.provenance.get("training_data"), dict) else {}
    n_train = _number(data.get("n_train_images"))
    if n_train is not None and n_train < FEW_TRAINING_IMAGES:
        limits.append(f"Trained on only {int(n_train)} images: check its counts against a few cells you count "
                      "yourself before relying on it.")
    if not limits:
        limits.append(f"Counts are most reliable when cells appear near {info.cell_diameter_px:g} px across: measure "
                      "a cell (Tools › Measure cell) when yours are much larger or smaller.")
    return limits


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<tt>\1</tt>", _esc(text))


def _table(rows) -> str:
    body = "".join(f"<tr><td valign='top'><b>{_esc(k)}</b></td><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing='2' cellpadding='2'>{body}</table>"


def card_html(info) -> str:
    """The card as HTML, for a QTextBrowser."""
    limits = "".join(f"<li>{_inline(item)}</li>" for item in known_limits(info))
    return "".join([
        f"<h2>{_esc(info.name)}</h2>",
        f"<p><tt>{_esc(info.path)}</tt></p>" if info.path else "<p>Not saved to a file yet.</p>",
        what_it_is(info),
        "<h3>Trained on</h3>", training_data_html(info.provenance),
        "<h3>How it was made</h3>", provenance_html(info.provenance),
        "<h3>How well it counts</h3>", accuracy_html(info.provenance),
        f"<h3>Known limits</h3><ul>{limits}</ul>",
    ])
