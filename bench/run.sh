#!/usr/bin/env bash
# One command: builds tracecost (release), installs the anchors into a local
# virtual environment, runs the interleaved benchmark, writes bench/RESULTS.md
# and bench/scale.png.
#   SCALE=320 ROUNDS=3 ANCHOR_ROUNDS=1 CURVE=1,4,16 bench/run.sh
# Takes ~30 min on 2 cores: the DuckDB + scipy anchor alone is ~10 min a round.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
target="${CARGO_TARGET_DIR:-target}"
if ! bench/.venv/bin/python -c "import duckdb, polars, pyarrow, scipy, numpy, matplotlib" 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet --disable-pip-version-check "duckdb==2.0.1" "polars==2.1.0" \
        "pyarrow==26.0.1" "scipy==1.17.1" "numpy==2.4.6" "matplotlib==3.11.2"
fi
exec bench/.venv/bin/python bench/bench.py --tracecost "$target/release/tracecost" --python bench/.venv/bin/python \
    --scale "${SCALE:-320}" --rounds "${ROUNDS:-3}" --anchor-rounds "${ANCHOR_ROUNDS:-1}" --curve "${CURVE:-1,4,16}"
