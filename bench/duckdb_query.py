"""Anchor: the transform and grouped aggregates in DuckDB SQL, on duckdb_ingest.py's
Parquet file: de-duplication, roles and request ids as in pipelines/proxy-fetch.toml,
per-request metrics (cost with the pipeline's prices: the executor's request fee not
billed; cost_other_billing with it), then mean/median/p95/p99/std/min/max per approach,
delay, metric: point estimates only.

    duckdb_query.py INGESTED.parquet AGGREGATES.csv [REQUESTS.parquet]

With a third argument, the complete requests are written too, for scipy_intervals.py."""
import sys

import duckdb

ingested, out = sys.argv[1], sys.argv[2]
requests_out = sys.argv[3] if len(sys.argv) > 3 else None
con = duckdb.connect()
con.execute(f"""
CREATE TEMP TABLE legs AS
WITH lines AS (
  SELECT DISTINCT ON (to_json(l)) l.*,
         json_extract_string(to_json(l."Event"), '$.Request.URL') AS url,
         json_extract_string(to_json(l."Event"), '$.rpcMethod') AS rpc,
         array_to_string(list_transform(l."Logs", lambda x: array_to_string(x."Message", chr(10))), chr(10)) AS msgs
  FROM read_parquet('{ingested}') l
  WHERE l."EventTimestampMs" IS NOT NULL
), roles AS (
  SELECT *,
    CASE
      WHEN "ScriptName" = 'experiment-origin' AND "Entrypoint" = 'OriginDO' AND rpc = 'onFetchResult' THEN 'callback'
      WHEN "ScriptName" = 'experiment-origin' AND "Entrypoint" = 'OriginDO' AND "EventType" = 'fetch' AND url LIKE '%/experiment/%' THEN 'origin'
      WHEN "ScriptName" = 'proxy-orchestrator' AND "Entrypoint" = 'Orchestrator' THEN 'orchestrator'
      WHEN "ScriptName" = 'proxy-executor' THEN 'executor'
    END AS role
  FROM lines
  WHERE "ScriptName" IN ('experiment-origin', 'proxy-orchestrator', 'proxy-executor')
    AND "EventType" IN ('fetch', 'worker_rpc', 'rpc')
)
SELECT *,
  coalesce(nullif(regexp_extract(url, '[?&]reqId=([0-9a-f]+)', 1), ''),
           nullif(regexp_extract(msgs, '"reqId"\\s*:\\s*"([0-9a-f]+)"', 1), ''),
           md5(to_json(roles))) AS request_id,
  nullif(regexp_extract(url, '/experiment/([a-z-]+)', 1), '') AS leg_approach,
  coalesce(nullif(regexp_extract(url, '[?&]delay=([0-9]+)', 1), ''),
           nullif(regexp_extract(msgs, '/delay/([0-9]+)', 1), ''))::BIGINT AS leg_delay
FROM roles WHERE role IS NOT NULL
""")
con.execute("""
CREATE TEMP TABLE requests AS
SELECT request_id,
  coalesce(arg_min(leg_approach, "EventTimestampMs") FILTER (WHERE leg_approach IS NOT NULL),
           CASE WHEN bool_or(role = 'orchestrator') THEN 'current' END) AS approach,
  arg_min(leg_delay, "EventTimestampMs") FILTER (WHERE leg_delay IS NOT NULL) AS delay_ms,
  sum("WallTimeMs") FILTER (WHERE role <> 'executor') AS do_wall_ms,
  sum("CPUTimeMs") FILTER (WHERE role <> 'executor') AS do_cpu_ms,
  coalesce(sum("CPUTimeMs") FILTER (WHERE role = 'executor'), 0) AS worker_cpu_ms,
  coalesce(sum("WallTimeMs") FILTER (WHERE role = 'executor'), 0) AS worker_wall_ms,
  count(*) FILTER (WHERE role <> 'executor') AS do_invocations,
  count(*) FILTER (WHERE role = 'executor') AS worker_invocations,
  max("EventTimestampMs" + "WallTimeMs") - min("EventTimestampMs") AS span_ms,
  bool_or(role = 'origin') AS has_origin, bool_or(role = 'orchestrator') AS has_orchestrator,
  bool_or(role = 'executor') AS has_executor, bool_or(role = 'callback') AS has_callback
FROM legs GROUP BY request_id
""")
con.execute("""
CREATE TEMP TABLE r AS
SELECT *, cost_usd_per_million + worker_invocations * 0.30 AS cost_other_billing_usd_per_million
FROM (
  SELECT *, do_wall_ms * 0.0016 + do_invocations * 0.15 + worker_cpu_ms * 0.02
            + CASE WHEN approach = 'direct' THEN 0 ELSE 1.001 END AS cost_usd_per_million
  FROM requests
  WHERE approach IS NOT NULL AND delay_ms IS NOT NULL AND has_origin
    AND (approach = 'direct' OR (has_executor AND has_callback AND (approach <> 'current' OR has_orchestrator)))
)""")
if requests_out:
    con.execute(f"""
COPY (SELECT approach, delay_ms, do_wall_ms, do_cpu_ms, worker_cpu_ms, worker_wall_ms, do_invocations,
             worker_invocations, span_ms, cost_usd_per_million, cost_other_billing_usd_per_million
      FROM r ORDER BY request_id)
TO '{requests_out}' (FORMAT parquet)""")
con.execute(f"""
COPY (
  WITH long AS (
    UNPIVOT r ON do_wall_ms, do_cpu_ms, worker_cpu_ms, worker_wall_ms, do_invocations, worker_invocations, span_ms,
                 cost_usd_per_million, cost_other_billing_usd_per_million
    INTO NAME metric VALUE v
  )
  SELECT approach, delay_ms, metric, count(*) AS n, avg(v) AS mean, quantile_cont(v, 0.5) AS median,
         quantile_cont(v, 0.95) AS p95, quantile_cont(v, 0.99) AS p99, stddev_samp(v) AS std, min(v) AS min, max(v) AS max
  FROM long GROUP BY ALL ORDER BY ALL
) TO '{out}' (HEADER)""")
