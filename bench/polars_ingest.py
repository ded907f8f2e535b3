"""Anchor: Python Polars gunzips each object, reads it as NDJSON, writes Parquet."""
import glob
import gzip
import sys

import polars as pl

archive, out = sys.argv[1], sys.argv[2]
frames = []
for path in sorted(glob.glob(f"{archive}/*/*.log.gz")):
    with gzip.open(path, "rb") as f:
        body = f.read()
    try:
        frames.append(pl.read_ndjson(body, ignore_errors=True, infer_schema_length=None))
    except Exception:  # an object whose lines do not parse at all
        pass
pl.concat(frames, how="diagonal_relaxed").write_parquet(out)
