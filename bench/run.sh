#!/usr/bin/env bash
# One command: builds tracecost (release), installs the anchors into a local
# virtual environment, runs the interleaved benchmark, writes bench/RESULTS.md.
#   SCALE=320 ROUNDS=3 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet --disable-pip-version-check "duckdb==2.0.1" "polars==2.1.0" "pyarrow==26.0.1"
fi
exec bench/.venv/bin/python bench/bench.py --tracecost target/release/tracecost --python bench/.venv/bin/python \
    --scale "${SCALE:-320}" --rounds "${ROUNDS:-3}"
