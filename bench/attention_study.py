"""The attention study of trained builds: per-head sparsity and the uniform-attention ablation.

Usage: python bench/attention_study.py [salt_l1 linformer_l1 transformer_ref ...] [--jets 3000]

Reads each build's deployed (QAT) model and its prepared test split (build/<name>/, from `l1tag train -c
configs/<name>.yaml`), runs l1tag.report.attention_study on the first ``--jets`` test jets, and prints the
section that report.md shows, one per build, also written between the attention_study markers of
docs/models.md (``--no-docs``: print only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="*", default=["salt_l1", "linformer_l1", "transformer_ref"])
    ap.add_argument("--jets", type=int, default=3000)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()

    from l1tag.data.preprocess import load_prepared
    from l1tag.models.builders import load_model
    from l1tag.report.attention_study import attention_study, markdown
    from readme_table import write_between_markers

    sections = []
    for name in args.builds:
        build = REPO / "build" / name
        model_file, data_file = build / "model" / "qat.h5", build / "data" / "prepared.npz"
        if not (model_file.exists() and data_file.exists()):
            sys.exit(f"{name}: no trained model in {build}: run `l1tag train -c configs/{name}.yaml` first")
        data = load_prepared(data_file)
        study = attention_study(load_model(model_file), data.x["test"], data.y["test"], data.multiplicity_test,
                                jets=args.jets, raw=data.raw_test)
        sections.append(f"**`{name}`**. {markdown(study)}")
        print(sections[-1] + "\n")
    if not args.no_docs:
        write_between_markers("attention_study", "\n\n".join(sections))


if __name__ == "__main__":
    main()
