"""Can a judge read? The two label judges of the divergence summaries on cases with a known answer.

Each case is a label, the texts it describes and texts it does not. A judge that reads gives the
described texts higher fit scores: AUC near 1 (0.5 = chance, below 0.5 = the wrong way round).
Judges: the MiniLM embedding cosine (``judge: embedding``) and the packaged SmolLM2-135M-Instruct
asked yes/no, scored by log P(yes) - log P(no) (``judge: assistant``). Prints AUC and seconds per
case for each. Usage:

    .venv/bin/python benchmarks/label_judges.py --threads 1
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CATS = [
    "My cat sleeps on the sofa all afternoon.",
    "The kitten chased a ball of yarn across the floor.",
    "Our cat caught a mouse in the garden last night.",
    "She purrs loudly whenever I scratch behind her ears.",
    "The cat knocked a glass off the kitchen table again.",
    "Two kittens were curled up together in a basket.",
    "He feeds his cat tuna every Sunday morning.",
    "The tabby cat climbed onto the roof and would not come down.",
]
BANKS = [
    "The bank raised its interest rates again this quarter.",
    "My savings account pays almost nothing these days.",
    "They applied for a mortgage at the local bank.",
    "Inflation is eating into everyone's savings.",
    "The bank froze his account after a suspicious transfer.",
    "Loan fees went up for small businesses this year.",
    "She moved her money to a bank with lower charges.",
    "The central bank cut rates to support the economy.",
]
RUDE = [
    "Oh great, another genius question. Figure it out yourself.",
    "Wow, you really can't do anything on your own, can you?",
    "Ugh, fine. Whatever. Not like I care.",
    "Seriously? That's the dumbest thing I've heard today.",
    "Sure, because that's obviously my job, right?",
    "Read the manual, it's not rocket science, genius.",
]
POLITE = [
    "I'd be happy to help you with that question.",
    "Thank you for asking! Here is a short explanation.",
    "Of course, let me walk you through it step by step.",
    "That's a great question; here is what I know.",
    "I hope this helps, and feel free to ask more.",
    "Certainly! Let me know if anything is unclear.",
]
CASES = [
    ("Texts about cats.", CATS, BANKS),
    ("Texts about banks and money.", BANKS, CATS),
    ("Rude, sarcastic replies.", RUDE, POLITE),
    ("Polite, helpful replies.", POLITE, RUDE),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--assistant", default="smollm2-135m-instruct", help="model source of the assistant judge"
    )
    args = parser.parse_args()

    import numpy as np
    import torch

    from llm_behavior.divergence.embeddings import load_minilm
    from llm_behavior.divergence.summaries import assistant_judge, embedding_judge
    from llm_behavior.divergence.validation import auc
    from llm_behavior.models import load_language_model

    torch.set_num_threads(args.threads)
    judges = {
        "embedding (MiniLM cosine)": embedding_judge(load_minilm()),
        f"assistant ({args.assistant}, log P(yes) - log P(no))": assistant_judge(
            load_language_model({"source": args.assistant})
        ),
    }
    print(f"{'label':32s} {'n':>7s}  " + "  ".join(f"{name[:30]:>30s}" for name in judges))
    for label, described, other in CASES:
        cells = []
        for judge in judges.values():
            t0 = time.perf_counter()
            scores = judge(label, described + other)
            seconds = time.perf_counter() - t0
            positive = np.array([True] * len(described) + [False] * len(other))
            cells.append(f"AUC {auc(scores, positive):.2f} ({seconds:6.2f} s)")
        print(
            f"{label:32s} {len(described):>3d}+{len(other):<3d}  "
            + "  ".join(f"{c:>30s}" for c in cells)
        )


if __name__ == "__main__":
    main()
