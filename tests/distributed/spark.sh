#!/usr/bin/env bash
# A real distributed run, opt-in (issue 20): `tracecost publish` writes a
# simulator archive's lake as Iceberg tables (SQLite SQL catalog); Spark, in
# local mode on this machine, runs the statement of `tracecost transform
# --emit-sql spark` over the published `events` table; `tracecost report
# --requests` reports on Spark's export; the script checks that Spark's
# requests equal the Polars transform's row by row and that every table of the
# two reports is the same bytes.
#
#   bash tests/distributed/spark.sh            # ~3 min after the installs
#   KEEP=1 bash tests/distributed/spark.sh     # keep the work folder
#
# Installs: pyspark 4.0.1, pyiceberg and duckdb (pip, into a venv in the work
# folder, or $SPARK_VENV if set), a JDK 17 (Debian's openjdk-17-jre-headless)
# when `java` is missing. Spark's own Iceberg connector is a Maven artifact,
# which this project's registries do not carry: Spark gets the published table
# through pyiceberg (the table's snapshot read as Arrow), not through its
# catalog.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d /tmp/tracecost-spark.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
say() { printf '== %s\n' "$*"; }

if ! command -v java >/dev/null; then
    say "installing a JDK (openjdk-17-jre-headless)"
    apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
venv=${SPARK_VENV:-$work/venv}
if [ ! -x "$venv/bin/python" ]; then
    say "installing pyspark and duckdb into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==4.0.1" "duckdb==2.0.1" \
        "pyiceberg[sql-sqlite]==0.12.0" "pyarrow==26.0.1"
fi
py=$venv/bin/python

say "building tracecost (with Iceberg)"
cargo build --quiet --features iceberg
tc=$root/target/debug/tracecost

say "one machine: simulate, mirror, transform, report"
"$tc" simulate --out "$work/sim" --seed 11 --runs 12 --rpc-target >/dev/null
flags=(--pipeline pipelines/proxy-fetch.toml --source "$work/sim/logpush" --lake "$work/lake"
       --run-manifest "$work/sim/run-manifest.csv" --resamples 2000 --no-charts --quiet)
"$tc" mirror "${flags[@]}"
"$tc" transform "${flags[@]}"
"$tc" report "${flags[@]}" --out "$work/report-here"

say "publish: the lake as Iceberg tables"
"$tc" publish "${flags[@]}" --catalog "$work/catalog.db" --warehouse "$work/warehouse"

say "Spark: the emitted statement over the published events, exported as Parquet"
"$tc" transform "${flags[@]}" --emit-sql spark > "$work/requests.sql"
"$py" - "$work/catalog.db" "$work/warehouse" "$work/requests.sql" "$work/spark-requests" <<'PY'
import sys, time
from pyiceberg.catalog.sql import SqlCatalog
from pyspark.sql import SparkSession
catalog_file, warehouse, sql, out = sys.argv[1:5]
spark = (SparkSession.builder.master("local[2]").appName("tracecost")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
catalog = SqlCatalog("tracecost", uri=f"sqlite:///{catalog_file}", warehouse=f"file://{warehouse}")
events = catalog.load_table(("tracecost", "events")).scan().to_arrow()
spark.createDataFrame(events).createOrReplaceTempView("events")
started = time.time()
spark.sql(open(sql).read()).write.mode("overwrite").parquet(out)
print(f"Spark SQL ran in {time.time() - started:.1f} s", file=sys.stderr)
spark.stop()
PY

say "report on Spark's requests"
"$tc" report "${flags[@]}" --requests "$work/spark-requests" --out "$work/report-spark"

say "compare"
"$py" - "$work/lake/_derived/proxy-fetch/requests.parquet" "$work/spark-requests" <<'PY'
import sys, duckdb
here, spark = sys.argv[1:3]
con = duckdb.connect()
con.execute(f"CREATE TABLE here AS SELECT * FROM read_parquet('{here}')")
con.execute(f"CREATE TABLE spark AS SELECT * FROM read_parquet('{spark}/*.parquet')")
one = lambda q: con.execute(q).fetchone()[0]
rows = (one("SELECT count(*) FROM here"), one("SELECT count(*) FROM spark"))
only = (one("SELECT count(*) FROM (SELECT * FROM here EXCEPT ALL SELECT * FROM spark)"),
        one("SELECT count(*) FROM (SELECT * FROM spark EXCEPT ALL SELECT * FROM here)"))
types = con.execute("DESCRIBE here").fetchall() == con.execute("DESCRIBE spark").fetchall()
print(f"requests: {rows[0]} here, {rows[1]} from Spark; only here {only[0]}, only Spark {only[1]}; same types: {types}")
sys.exit(0 if rows[0] == rows[1] and only == (0, 0) and types else 1)
PY
status=0
for f in "$work"/report-here/*.csv; do
    name=$(basename "$f")
    case $name in quality.csv) continue ;; esac
    if cmp -s "$f" "$work/report-spark/$name"; then
        echo "same    $name"
    else
        echo "DIFFERS $name"; status=1
    fi
done
[ $status -eq 0 ] && say "the same report from Spark's requests as from the one-machine run"
exit $status
