"""``python -m llm_behavior.scoring.local_toxicity prepare``: fetch, convert and train once."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from llm_behavior.scoring.local_toxicity import LocalToxicityScorer, TrainConfig, prepare

log = logging.getLogger("llm_behavior.scoring.local_toxicity")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_behavior.scoring.local_toxicity")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "prepare", help="download the wheels, convert tox-block, train (once per machine)"
    )
    p.add_argument(
        "--cache",
        default=None,
        help="cache dir (default: $LLM_BEHAVIOR_CACHE or ~/.cache/llm_behavior)",
    )
    p.add_argument("--max-train", type=int, default=None, help="train on a stratified subsample")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="retrain even if a model is cached")
    s = sub.add_parser("score", help="score texts given as arguments (or lines on stdin)")
    s.add_argument("texts", nargs="*")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "prepare":
        t0 = time.perf_counter()
        cfg = TrainConfig(seed=args.seed, max_train=args.max_train)
        out = prepare(args.cache, cfg, force=args.force, progress=log.info)
        info = json.loads((out / "model.json").read_text(encoding="utf-8"))
        log.info(
            "local_toxicity model %s ready at %s (%.1f s); "
            "stacker CV AUROC %.4f on the training hold-out",
            info["model_id"],
            out,
            time.perf_counter() - t0,
            info["stacker"]["metrics"]["cv_auroc"],
        )
        return 0
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    frame = LocalToxicityScorer().score(texts)
    frame.insert(0, "text", texts)
    sys.stdout.write(frame.to_string(index=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
