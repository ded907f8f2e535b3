"""Anchor: DuckDB reads the gzipped Logpush objects and writes one Parquet file."""
import sys

import duckdb

archive, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"""
COPY (SELECT * FROM read_json('{archive}/*/*.log.gz', format='newline_delimited',
                              ignore_errors=true, union_by_name=true))
TO '{out}' (FORMAT parquet)""")
