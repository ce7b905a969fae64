"""The embedding model's tokenizer run by the `tokenizers` library alone, for the converted model.

Loading sentence-transformers imports PyTorch, transformers and scikit-learn: about 9 s before the first
vector, which a run that embeds one edited document pays in full. Once the model is converted for
OpenVINO, vectors need only its token ids, and the `tokenizers` library reads the model's own
tokenizer.json in milliseconds. Whether it gives exactly sentence-transformers' ids (same truncation,
padding and special tokens) is checked when the model is converted, on the calibration texts and on
edge cases; the settings are kept beside the converted model only when every id, mask and offset
agrees (`verified_tokenization`), and a model whose tokenization differs keeps loading through
sentence-transformers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

TOKENIZATION_FILE = "tokenization.json"  # beside the converted model.xml
TOKENIZER_FILE = "tokenizer.json"  # in the model's folder
# Texts checked besides the calibration texts: the empty text, spaces, Unicode, one past the window.
EDGE_TEXTS = ("", "   ", "x", "Zürich, Café crème, naïve façade, Ǆ, 東京, emoji 🙂.",
              "  Leading and trailing spaces.  ", "A passage longer than the model's window. " * 60)


@dataclass(frozen=True, slots=True)
class Tokenization:
    """What the converted model needs besides token ids, read once from sentence-transformers."""

    max_length: int  # tokens a text is cut to, special tokens included (sentence-transformers' max_seq_length)
    max_tokens: int  # text tokens that fit beside the special tokens
    dimension: int
    inputs: tuple[str, ...]  # the converted model's inputs, in order
    pad_id: int
    pad_token: str
    pad_type_id: int


def counting_tokenizer(tokenizer):
    """A copy of a `tokenizers` tokenizer without truncation or padding: it counts every token of a text."""
    import copy

    counting = copy.deepcopy(tokenizer)
    counting.no_truncation()
    counting.no_padding()
    return counting


class ModelTokenizer:
    """Token ids for the converted model, and token offsets for the chunker, from tokenizer.json."""

    def __init__(self, model_folder: Path, tokenization: Tokenization) -> None:
        from tokenizers import Tokenizer

        self.tokenization = tokenization
        self._counting = counting_tokenizer(Tokenizer.from_file(str(model_folder / TOKENIZER_FILE)))
        self._batching = Tokenizer.from_file(str(model_folder / TOKENIZER_FILE))
        self._batching.enable_truncation(tokenization.max_length, strategy="longest_first")
        self._batching.enable_padding(pad_id=tokenization.pad_id, pad_token=tokenization.pad_token,
                                      pad_type_id=tokenization.pad_type_id)

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return list(self._counting.encode(text, add_special_tokens=False).offsets)

    def features(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The model's inputs for a batch, padded to its longest text, as int64 arrays."""
        encodings = self._batching.encode_batch(list(texts))
        columns = {"input_ids": [encoding.ids for encoding in encodings],
                   "attention_mask": [encoding.attention_mask for encoding in encodings],
                   "token_type_ids": [encoding.type_ids for encoding in encodings]}
        return {name: np.asarray(columns[name], dtype=np.int64) for name in self.tokenization.inputs}


def verified_tokenization(model, model_folder: Path, inputs: Sequence[str], texts: Sequence[str],
                          batch_size: int) -> tuple[Tokenization | None, str]:
    """(the settings, "") when `ModelTokenizer` gives sentence-transformers' inputs and offsets on `texts` and
    EDGE_TEXTS in batches of `batch_size`, else (None, the first difference)."""
    if not (model_folder / TOKENIZER_FILE).is_file():
        return None, f"the model has no {TOKENIZER_FILE}"
    hf_tokenizer = model.tokenizer
    special = hf_tokenizer.num_special_tokens_to_add(pair=False)
    tokenization = Tokenization(
        max_length=int(model.max_seq_length), max_tokens=int(model.max_seq_length) - special,
        dimension=int(model.get_embedding_dimension()), inputs=tuple(inputs),
        pad_id=int(hf_tokenizer.pad_token_id or 0), pad_token=str(hf_tokenizer.pad_token or ""),
        pad_type_id=int(getattr(hf_tokenizer, "pad_token_type_id", 0) or 0))
    ours = ModelTokenizer(model_folder, tokenization)
    reference = counting_tokenizer(hf_tokenizer.backend_tokenizer)
    checked = [*texts, *EDGE_TEXTS]
    for start in range(0, len(checked), batch_size):
        batch = checked[start:start + batch_size]
        expected = model.preprocess(batch)
        got = ours.features(batch)
        for name in inputs:
            if not np.array_equal(expected[name].numpy(), got[name]):
                return None, f"{name} differ from sentence-transformers' on {batch[0][:40]!r}..."
    for text in checked:
        if ours.token_offsets(text) != list(reference.encode(text, add_special_tokens=False).offsets):
            return None, f"token offsets differ on {text[:40]!r}"
    return tokenization, ""


def write_tokenization(folder: Path, tokenization: Tokenization) -> None:
    """Keep the settings beside the converted model, whole or not at all."""
    handle, staging = tempfile.mkstemp(prefix=".tokenization-", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(asdict(tokenization), file)
    os.replace(staging, folder / TOKENIZATION_FILE)


def read_tokenization(folder: Path) -> Tokenization | None:
    """The settings kept beside a converted model, or None when there are none (or they do not read)."""
    try:
        fields = json.loads((folder / TOKENIZATION_FILE).read_text(encoding="utf-8"))
        return Tokenization(**{**fields, "inputs": tuple(fields["inputs"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
