//! `transform --emit-sql`: the transform as one SQL statement over the
//! events table, for an engine that holds more than one machine does (DuckDB
//! over the lake, Spark or R2 SQL over Iceberg tables).
//!
//! The statement yields the columns of `requests.parquet`, request by request
//! the same values: the same rules as the Polars plan (`super::line_columns`,
//! `deduplicate`, `aggregate`, `apply_run_manifest`, `finish`), spelled in SQL.
//! The run manifest's windows are written into the statement, so it needs no
//! other table. Regexes go through [`regex::portable`]; what has no equal
//! form is refused in one line rather than emitted differently.

pub mod regex;

use std::fmt;

use anyhow::{bail, Result};

use super::rules::{ApproachSpec, AttributeRule, TransformSection};
use super::{Options, SCRIPT_VERSION_ID};
use crate::core::cost::Usage;
use crate::core::limits::{EVENT_TIME_MAX_MS, EVENT_TIME_MIN_MS, MAX_DURATION_MS};
use crate::core::metric::Metric;
use crate::core::named::Named;
use crate::lake::derived::request_columns;
use crate::lake::derived::{COLO, REQUEST_ORDER, SCRIPT_VERSION};
use crate::lake::run_manifest::RunWindow;
use crate::transform::rules::Billing;

/// The SQL dialects the transform is emitted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dialect {
    /// DuckDB (RE2 regexes).
    Duckdb,
    /// Spark SQL 3.4 or later (Java regexes), as over Iceberg tables.
    Spark,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Duckdb => "DuckDB",
            Dialect::Spark => "Spark SQL",
        })
    }
}

impl Dialect {
    /// A string literal. Spark reads `\` as an escape and `''` as two
    /// literals side by side; DuckDB reads both as SQL does.
    fn text(self, s: &str) -> String {
        match self {
            Dialect::Duckdb => format!("'{}'", s.replace('\'', "''")),
            // `$` spelled as an escape: Spark substitutes `${...}` (variables,
            // the environment) in a statement's text before it parses it.
            Dialect::Spark => {
                let escaped = s.replace('\\', "\\\\").replace('\'', "\\'");
                format!("'{}'", escaped.replace('$', "\\u0024"))
            }
        }
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::Duckdb => "VARCHAR",
            Dialect::Spark => "STRING",
        }
    }

    /// Whether `pattern` (a regex literal) is found in `value`; null for null.
    fn found(self, value: &str, pattern: &str) -> String {
        match self {
            Dialect::Duckdb => format!("regexp_matches({value}, {pattern})"),
            Dialect::Spark => format!("({value} RLIKE {pattern})"),
        }
    }

    /// The distinct non-null values of `column`, sorted and joined with ",";
    /// null when there is none (or only "").
    fn distinct_joined(self, column: &str) -> String {
        match self {
            Dialect::Duckdb => {
                format!("NULLIF(string_agg(DISTINCT {column}, ',' ORDER BY {column}), '')")
            }
            Dialect::Spark => {
                format!("NULLIF(array_join(array_sort(collect_set({column})), ','), '')")
            }
        }
    }
}

/// Most run manifest windows written into a statement.
const MAX_WINDOWS: usize = 100_000;

/// A number as a DOUBLE literal that reads back as the same bits.
fn double(x: f64) -> String {
    format!("CAST({x:e} AS DOUBLE)")
}

/// A table name: identifiers joined by dots, as `catalog.db.table`.
fn check_table(name: &str) -> Result<()> {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        (chars.next()).is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if name.split('.').count() > 3 || !name.split('.').all(identifier) {
        bail!("--events-table {name:?}: give a table name such as events or catalog.db.events (letters, digits and _, up to two dots)");
    }
    Ok(())
}

/// The statement, for `dialect`, over the table `events`, with the run
/// manifest's windows when the pipeline names one.
pub fn emit(opts: &Options, dialect: Dialect, events: &str) -> Result<String> {
    check_table(events)?;
    opts.rules.validate()?;
    let windows = match &opts.rules.run_manifest {
        Some(path) => Some(crate::lake::run_manifest::load(path)?),
        None => None,
    };
    if let Some(n) = windows.as_ref().map(Vec::len).filter(|n| *n > MAX_WINDOWS) {
        bail!("the run manifest has {n} windows: more than {MAX_WINDOWS} do not fit one statement (each is a row of it, and every request is matched against them); emit with a pipeline file without transform.run_manifest and join the manifest in the engine");
    }
    statement(opts, windows.as_deref(), dialect, events)
}

fn statement(
    opts: &Options,
    windows: Option<&[RunWindow]>,
    dialect: Dialect,
    events: &str,
) -> Result<String> {
    let e = Emitter {
        d: dialect,
        t: &opts.rules,
    };
    let mut sql = e.header(opts, windows, events);
    sql.push_str("WITH\n");
    sql.push_str(&e.lines(opts, events)?);
    sql.push_str(&e.legs());
    sql.push_str(&e.grouped());
    sql.push_str(&e.attributed());
    sql.push_str(&e.resolved(windows.filter(|w| !w.is_empty())));
    sql.push_str(&e.requests(opts));
    Ok(sql)
}

struct Emitter<'a> {
    d: Dialect,
    t: &'a TransformSection,
}

impl Emitter<'_> {
    fn header(&self, opts: &Options, windows: Option<&[RunWindow]>, events: &str) -> String {
        // Comments hold no text that could end them.
        let line = |s: &str| s.replace(['\n', '\r'], " ");
        let lake = line(&opts.lake.display().to_string());
        let window = match (opts.window.from, opts.window.to) {
            (None, None) => "every event".to_string(),
            (from, to) => format!(
                "events from {} to {} (exclusive)",
                from.map_or("the first".into(), |t| t.to_rfc3339()),
                to.map_or("the last".into(), |t| t.to_rfc3339()),
            ),
        };
        let manifest = match windows {
            Some(w) => format!("the run manifest's {} windows, written below", w.len()),
            None => "no run manifest".to_string(),
        };
        format!(
            "-- tracecost {version}: `transform` as one {d} statement: the columns of requests.parquet.\n\
             -- Reads `{events}`, the lake's rows; {window}; {manifest}.\n\
             -- It needs the lake's columns, Colo and ScriptVersion among them (lakes mirrored before they were lifted lack them).\n\
             -- DuckDB over the local lake: CREATE VIEW {events} AS SELECT * FROM read_parquet('{lake}/date=*/*.parquet', hive_partitioning = true, union_by_name = true);\n",
            version = env!("CARGO_PKG_VERSION"),
            d = self.d,
        )
    }

    fn regex(&self, pattern: &str, field: &str) -> Result<String> {
        let field = format!("transform.{field}");
        Ok(self.d.text(&regex::portable(pattern, self.d, &field)?))
    }

    /// Group 1 of the first match of `pattern` in `value`; null without a match.
    fn extract(&self, value: &str, pattern: &str, field: &str) -> Result<String> {
        let field = format!("transform.{field}");
        let re = self
            .d
            .text(&regex::portable_extract(pattern, self.d, &field)?);
        Ok(format!(
            "CASE WHEN {} THEN regexp_extract({value}, {re}, 1) END",
            self.d.found(value, &re)
        ))
    }

    fn any_of(&self, column: &str, values: &[&str]) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        let list: Vec<String> = values.iter().map(|v| self.d.text(v)).collect();
        Some(format!(
            "COALESCE({column} IN ({}), FALSE)",
            list.join(", ")
        ))
    }

    fn role_rule(&self) -> Result<String> {
        let mut whens = String::new();
        for (i, r) in self.t.roles.iter().enumerate() {
            let mut parts: Vec<String> = (r.field_values().into_iter())
                .filter_map(|(column, values)| self.any_of(column, &values.values()))
                .collect();
            if let Some(url) = &r.url {
                let re = self.regex(url, &format!("roles[{i}].url ({})", r.name))?;
                parts.push(format!(
                    "COALESCE({}, FALSE)",
                    self.d.found("RequestURL", &re)
                ));
            }
            let condition = match parts.is_empty() {
                true => "TRUE".to_string(),
                false => parts.join(" AND "),
            };
            whens.push_str(&format!(" WHEN {condition} THEN {}", self.d.text(&r.name)));
        }
        Ok(format!("CASE{whens} END"))
    }

    /// Why a line has no role though a rule may match it: as `line_columns`.
    fn ignored(&self) -> String {
        let outside =
            |c: &str, low: i64, high: i64| format!("COALESCE({c} < {low} OR {c} > {high}, FALSE)");
        let filters = &self.t.filters;
        let scripts: Vec<&str> = filters.scripts.iter().map(String::as_str).collect();
        let types: Vec<&str> = filters.event_types.iter().map(String::as_str).collect();
        let mut parts = vec![
            outside("WallTimeMs", 0, MAX_DURATION_MS),
            outside("CPUTimeMs", 0, MAX_DURATION_MS),
            outside("EventTimestampMs", EVENT_TIME_MIN_MS, EVENT_TIME_MAX_MS - 1),
        ];
        parts.extend(
            self.any_of("ScriptName", &scripts)
                .map(|s| format!("NOT {s}")),
        );
        parts.extend(self.any_of("EventType", &types).map(|s| format!("NOT {s}")));
        parts.join(" OR ")
    }

    fn correlation(&self) -> Result<String> {
        let c = &self.t.correlation;
        let mut exprs = Vec::new();
        for (i, p) in c.url.iter().enumerate() {
            exprs.push(self.extract("RequestURL", p, &format!("correlation.url[{i}]"))?);
        }
        for (i, p) in c.logs.iter().enumerate() {
            exprs.push(self.extract("LogMessages", p, &format!("correlation.logs[{i}]"))?);
        }
        Ok(self.coalesce(exprs))
    }

    fn coalesce(&self, exprs: Vec<String>) -> String {
        match exprs.len() {
            0 => format!("CAST(NULL AS {})", self.d.text_type()),
            1 => exprs.into_iter().next().expect("one"),
            _ => format!("COALESCE({})", exprs.join(", ")),
        }
    }

    /// The value a line gives for an attribute, renamed: as `leg_attribute_expr`.
    fn attribute(&self, rule: &AttributeRule, name: &str) -> Result<String> {
        let mut exprs = Vec::new();
        if let Some(key) = &rule.url_query {
            let p = crate::core::url::query_pattern(key);
            exprs.push(self.extract("RequestURL", &p, &format!("{name}.url_query"))?);
        }
        if let Some(p) = &rule.url_regex {
            exprs.push(self.extract("RequestURL", p, &format!("{name}.url_regex"))?);
        }
        if let Some(p) = &rule.log_regex {
            exprs.push(self.extract("LogMessages", p, &format!("{name}.log_regex"))?);
        }
        if !rule.rpc_method.is_empty() {
            let whens: String = (rule.rpc_method.iter())
                .map(|(m, v)| {
                    format!(
                        " WHEN RpcMethod = {} THEN {}",
                        self.d.text(m),
                        self.d.text(v)
                    )
                })
                .collect();
            exprs.push(format!("CASE{whens} END"));
        }
        let value = self.coalesce(exprs);
        if rule.rename.is_empty() {
            return Ok(value);
        }
        let whens: String = (rule.rename.iter())
            .map(|(from, to)| {
                format!(
                    " WHEN {value} = {} THEN {}",
                    self.d.text(from),
                    self.d.text(to)
                )
            })
            .collect();
        Ok(format!("CASE{whens} ELSE {value} END"))
    }

    /// Every line of the window, classified.
    fn lines(&self, opts: &Options, events: &str) -> Result<String> {
        let from = opts
            .window
            .from
            .map(|t| format!("EventTimestampMs >= {}", t.timestamp_millis()));
        let to = opts
            .window
            .to
            .map(|t| format!("EventTimestampMs < {}", t.timestamp_millis()));
        let window: Vec<String> = [from, to].into_iter().flatten().collect();
        let window = match window.is_empty() {
            true => "TRUE".to_string(),
            false => window.join(" AND "),
        };
        let version = self.extract("ScriptVersion", SCRIPT_VERSION_ID, "script version")?;
        Ok(format!(
            "lines AS (\n  SELECT event_id, EventTimestampMs, source_object, source_line, WallTimeMs, CPUTimeMs, Outcome, Colo,\n    \
             CASE WHEN {ignored} THEN NULL ELSE {role} END AS role,\n    \
             {version} AS script_version_id,\n    \
             {correlation} AS correlation_id,\n    \
             {approach} AS leg_approach,\n    \
             {delay} AS leg_delay_text\n  \
             FROM {events}\n  WHERE {window}\n),\n",
            ignored = self.ignored(),
            role = self.role_rule()?,
            correlation = self.correlation()?,
            approach = self.attribute(&self.t.approach, "approach")?,
            delay = self.attribute(&self.t.delay, "delay")?,
        ))
    }

    /// One row per distinct line with a role (the copy first in time, id,
    /// object, line order), its request and how it is billed, numbered in
    /// time order within its request.
    fn legs(&self) -> String {
        let billing = self.t.billing_assumptions();
        let billing_of: String = (billing.iter())
            .map(|b| {
                format!(
                    " WHEN {} THEN {}",
                    self.d.text(&b.role),
                    self.d.text(b.billing.name())
                )
            })
            .collect();
        let billed: String = (billing.iter())
            .map(|b| format!(" WHEN {} THEN {}", self.d.text(&b.role), b.request_billed))
            .collect();
        // Polars casts text of an optional sign and digits, nothing else
        // (`\z`: Java's `$` would also match before a final line break).
        let digits = self.d.text(r"\A[+-]?[0-9]+\z");
        let delay = format!(
            "CASE WHEN {} THEN TRY_CAST(leg_delay_text AS BIGINT) END",
            self.d.found("leg_delay_text", &digits)
        );
        format!(
            "copies AS (\n  SELECT *, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY {copy_order}) AS copy\n  FROM lines\n),\n\
             distinct_legs AS (\n  SELECT *, COALESCE(correlation_id, event_id) AS request_id,\n    \
             CASE role{billing_of} END AS billing,\n    \
             CASE role{billed} END AS request_billed,\n    \
             CASE WHEN Outcome <> {ok} THEN Outcome END AS outcome_not_ok,\n    \
             {delay} AS leg_delay_ms\n  \
             FROM copies WHERE copy = 1 AND role IS NOT NULL\n),\n\
             legs AS (\n  SELECT *, ROW_NUMBER() OVER (PARTITION BY request_id ORDER BY EventTimestampMs, event_id) AS leg_order\n  FROM distinct_legs\n),\n",
            copy_order = super::COPY_ORDER.join(", "),
            ok = self.d.text(super::OUTCOME_OK),
        )
    }

    /// Per request, as `aggregate` before its request-level rules.
    fn grouped(&self) -> String {
        let d = self.d;
        let first = |c: &str| format!("min_by({c}, leg_order) FILTER (WHERE {c} IS NOT NULL)");
        let is = |b: Billing| format!("billing = {}", d.text(b.name()));
        let sum = |b: Billing, c: &str| {
            format!(
                "CAST(COALESCE(SUM(CASE WHEN {} THEN {c} END), 0) AS BIGINT)",
                is(b)
            )
        };
        let count = |condition: String| {
            format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)")
        };
        let mut columns = vec![
            format!("{} AS leg_approach", first("leg_approach")),
            format!("{} AS leg_delay_ms", first("leg_delay_ms")),
            format!(
                "{} AS {}",
                sum(Billing::Do, "WallTimeMs"),
                Metric::DoWall.column()
            ),
            format!(
                "{} AS {}",
                sum(Billing::Do, "CPUTimeMs"),
                Metric::DoCpu.column()
            ),
            format!(
                "{} AS {}",
                sum(Billing::Worker, "CPUTimeMs"),
                Metric::WorkerCpu.column()
            ),
            format!(
                "{} AS {}",
                sum(Billing::Worker, "WallTimeMs"),
                Metric::WorkerWall.column()
            ),
            format!(
                "{} AS {}",
                count(is(Billing::Do)),
                Metric::DoInvocations.column()
            ),
            format!(
                "{} AS {}",
                count(is(Billing::Worker)),
                Metric::WorkerInvocations.column()
            ),
            format!(
                "{} AS {}",
                count(format!("{} AND request_billed", is(Billing::Do))),
                super::DO_REQUESTS_BILLED
            ),
            format!(
                "{} AS {}",
                count(format!("{} AND request_billed", is(Billing::Worker))),
                super::WORKER_REQUESTS_BILLED
            ),
            "MIN(EventTimestampMs) AS first_event_ms".into(),
            "MAX(EventTimestampMs + COALESCE(WallTimeMs, 0)) AS last_end_ms".into(),
            "CAST(COUNT(*) AS BIGINT) AS legs".into(),
            format!("{} AS {COLO}", first("Colo")),
            format!(
                "{} AS {SCRIPT_VERSION}",
                d.distinct_joined("script_version_id")
            ),
            "CAST(COUNT(outcome_not_ok) AS BIGINT) AS legs_not_ok".into(),
            format!("{} AS outcomes", d.distinct_joined("outcome_not_ok")),
        ];
        for (i, role) in self.t.role_names().iter().enumerate() {
            columns.push(format!(
                "MAX(CASE WHEN role = {} THEN 1 ELSE 0 END) = 1 AS has_role_{i}",
                d.text(role)
            ));
        }
        format!(
            "grouped AS (\n  SELECT request_id,\n    {}\n  FROM legs GROUP BY request_id\n),\n",
            columns.join(",\n    ")
        )
    }

    /// Whether a request has a leg of `role`: a column of [`Self::grouped`].
    fn has_role(&self, role: &str) -> String {
        let at = self.t.role_names().iter().position(|r| r == role);
        format!("has_role_{}", at.expect("validated: a declared role"))
    }

    /// The request-level rules: approach from roles present, then the
    /// constant; delay from the constant.
    fn attributed(&self) -> String {
        let d = self.d;
        let rule = &self.t.approach;
        let mut whens: String = (rule.role_present.iter())
            .map(|(role, a)| format!(" WHEN {} THEN {}", self.has_role(role), d.text(a)))
            .collect();
        if let Some(c) = rule.constant.as_ref().and_then(|c| c.as_str()) {
            whens.push_str(&format!(" ELSE {}", d.text(c)));
        }
        let approach = match whens.is_empty() {
            true => "leg_approach".to_string(),
            false => format!("COALESCE(leg_approach, CASE{whens} END)"),
        };
        let delay = match self.t.delay.constant.as_ref().and_then(|c| c.as_integer()) {
            Some(c) => format!("COALESCE(leg_delay_ms, CAST({c} AS BIGINT))"),
            None => "leg_delay_ms".to_string(),
        };
        format!(
            "attributed AS (\n  SELECT *, {approach} AS approach, {delay} AS delay_ms, last_end_ms - first_event_ms AS {}\n  FROM grouped\n),\n",
            Metric::Span.column()
        )
    }

    /// The columns of [`Self::attributed`] that pass through to the end.
    fn carried(&self) -> String {
        let mut columns: Vec<String> =
            ["request_id", "first_event_ms", "legs", COLO, SCRIPT_VERSION]
                .into_iter()
                .chain([
                    "legs_not_ok",
                    "outcomes",
                    super::DO_REQUESTS_BILLED,
                    super::WORKER_REQUESTS_BILLED,
                ])
                .map(String::from)
                .collect();
        columns.extend(
            (Metric::OF_LEGS.into_iter())
                .filter(|m| !matches!(m, Metric::Cost | Metric::CostOtherBilling))
                .map(|m| m.column().to_string()),
        );
        columns.extend((0..self.t.role_names().len()).map(|i| format!("has_role_{i}")));
        columns.join(", ")
    }

    /// The run manifest's windows: approach and delay of requests that carry
    /// neither, client latency and run id where they agree (`apply_run_manifest`).
    fn resolved(&self, windows: Option<&[RunWindow]>) -> String {
        let d = self.d;
        let text = d.text_type();
        let latency = Metric::ClientLatency.column();
        let carried = self.carried();
        let Some(windows) = windows else {
            return format!(
                "resolved AS (\n  SELECT {carried}, approach, delay_ms,\n    CAST(NULL AS DOUBLE) AS {latency}, CAST(NULL AS {text}) AS run_id\n  FROM attributed\n)\n",
            );
        };
        let opt_text = |v: &Option<String>| {
            v.as_deref()
                .map_or(format!("CAST(NULL AS {text})"), |s| d.text(s))
        };
        let rows: Vec<String> = (windows.iter())
            .map(|w| {
                format!(
                    "({}, {}, {}, {}, {}, {}, {})",
                    d.text(&w.approach),
                    w.delay_ms,
                    w.start_ms,
                    w.end_ms,
                    opt_text(&w.run_id),
                    w.client_latency_ms
                        .map_or("CAST(NULL AS DOUBLE)".into(), double),
                    opt_text(&w.req_id),
                )
            })
            .collect();
        let pick =
            |c: &str| format!("CASE WHEN n.req_id IS NOT NULL THEN n.{c} ELSE t.{c} END AS w_{c}");
        let picked = ["approach", "delay_ms", "run_id", latency]
            .map(pick)
            .join(",\n    ");
        let window_columns = format!("MIN(w.approach) AS approach, MIN(w.delay_ms) AS delay_ms, MIN(w.run_id) AS run_id, MIN(w.{latency}) AS {latency}");
        let agrees = "approach = w_approach AND delay_ms = w_delay_ms";
        format!(
            "run_windows AS (\n  SELECT CAST(approach AS {text}) AS approach, CAST(delay_ms AS BIGINT) AS delay_ms, CAST(start_ms AS BIGINT) AS start_ms,\n    \
             CAST(end_ms AS BIGINT) AS end_ms, CAST(run_id AS {text}) AS run_id, CAST({latency} AS DOUBLE) AS {latency}, CAST(req_id AS {text}) AS req_id\n  \
             FROM (VALUES\n    {rows}\n  ) AS w(approach, delay_ms, start_ms, end_ms, run_id, {latency}, req_id)\n),\n\
             named AS (\n  SELECT w.req_id, {window_columns}\n  FROM run_windows w WHERE w.req_id IS NOT NULL GROUP BY w.req_id HAVING COUNT(*) = 1\n),\n\
             timed AS (\n  SELECT a.request_id, {window_columns}\n  FROM attributed a JOIN run_windows w ON w.start_ms <= a.first_event_ms AND a.first_event_ms <= w.end_ms\n  \
             GROUP BY a.request_id HAVING COUNT(*) = 1\n),\n\
             matched AS (\n  SELECT a.*,\n    {picked}\n  FROM attributed a LEFT JOIN named n ON n.req_id = a.request_id LEFT JOIN timed t ON t.request_id = a.request_id\n),\n\
             filled AS (\n  SELECT {carried}, w_approach, w_delay_ms, w_run_id, w_{latency},\n    \
             COALESCE(approach, w_approach) AS approach, COALESCE(delay_ms, w_delay_ms) AS delay_ms\n  FROM matched\n),\n\
             resolved AS (\n  SELECT {carried}, approach, delay_ms,\n    \
             CASE WHEN {agrees} THEN w_{latency} END AS {latency},\n    \
             CASE WHEN {agrees} THEN w_run_id END AS run_id\n  FROM filled\n)\n",
            rows = rows.join(",\n    "),
        )
    }

    /// `CASE WHEN approach = a THEN ...`, over the declared approaches.
    fn by_approach(&self, then: impl Fn(&ApproachSpec) -> String, otherwise: &str) -> String {
        let whens: String = (self.t.approaches.iter())
            .map(|(a, spec)| format!(" WHEN approach = {} THEN {}", self.d.text(a), then(spec)))
            .collect();
        format!("CASE{whens} ELSE {otherwise} END")
    }

    /// Each priced quantity times its price, summed in `core::cost`'s order,
    /// the Worker legs billed a request fee counted by `worker_requests`.
    fn cost(&self, opts: &Options, worker_requests: &str) -> String {
        let f = |c: &str| format!("CAST({c} AS DOUBLE)");
        let usage = Usage {
            do_wall_ms: f(Metric::DoWall.column()),
            do_requests: f(super::DO_REQUESTS_BILLED),
            worker_cpu_ms: f(Metric::WorkerCpu.column()),
            worker_requests: f(worker_requests),
            rows_written: self.by_approach(|s| double(s.rows_written), &double(0.0)),
            rows_read: self.by_approach(|s| double(s.rows_read), &double(0.0)),
        };
        let terms: Vec<String> = (usage.priced(&opts.prices).into_iter())
            .map(|(quantity, price)| format!("{quantity} * {}", double(price)))
            .collect();
        terms.join("\n      + ")
    }

    /// Completeness, missing roles and cost, then the contract's columns in
    /// order, in time order (`finish`).
    fn requests(&self, opts: &Options) -> String {
        let d = self.d;
        let complete = self.by_approach(
            |spec| {
                let all = spec.required_roles.iter().map(|r| self.has_role(r));
                let all: Vec<String> = all
                    .chain(["COALESCE(delay_ms >= 0, FALSE)".into()])
                    .collect();
                all.join(" AND ")
            },
            "FALSE",
        );
        let absent = |roles: &[String]| -> String {
            let parts: Vec<String> = (roles.iter())
                .map(|r| format!("CASE WHEN NOT {} THEN {} END", self.has_role(r), d.text(r)))
                .collect();
            match parts.is_empty() {
                true => "''".into(),
                false => format!("concat_ws(',', {})", parts.join(", ")),
            }
        };
        let delay_unknown = d.text(super::DELAY_UNKNOWN);
        let missing = self.by_approach(
            |spec| {
                format!(
                    "CASE WHEN delay_ms IS NULL THEN {delay_unknown} WHEN delay_ms < 0 THEN {} ELSE {} END",
                    d.text(super::NEGATIVE_DELAY),
                    absent(&spec.required_roles)
                )
            },
            &format!(
                "CASE WHEN approach IS NULL THEN {} WHEN delay_ms IS NULL THEN {delay_unknown} ELSE {} END",
                d.text(super::APPROACH_UNKNOWN),
                d.text(super::APPROACH_NOT_DECLARED)
            ),
        );
        let roles: Vec<String> = (self.t.role_names().iter())
            .map(|r| format!("CASE WHEN {} THEN {} END", self.has_role(r), d.text(r)))
            .collect();
        let flipped = format!(
            "{} - {}",
            Metric::WorkerInvocations.column(),
            super::WORKER_REQUESTS_BILLED
        );
        let cost = Metric::Cost.column();
        let cost_other = Metric::CostOtherBilling.column();
        let columns: Vec<String> = (request_columns().into_iter())
            .map(|(name, _)| match name {
                "complete" => format!("{complete} AS {name}"),
                "roles" => format!("concat_ws(',', {}) AS {name}", roles.join(", ")),
                "missing_roles" => format!("{missing} AS {name}"),
                _ if name == cost => {
                    let worker_requests = super::WORKER_REQUESTS_BILLED;
                    format!("{} AS {name}", self.cost(opts, worker_requests))
                }
                _ if name == cost_other => format!("{} AS {name}", self.cost(opts, &flipped)),
                _ => name.to_string(),
            })
            .collect();
        format!(
            "SELECT\n  {}\nFROM resolved\nORDER BY {}\n",
            columns.join(",\n  "),
            REQUEST_ORDER.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_hold_any_text_in_either_dialect() {
        let text = r"it's a \d";
        assert_eq!(Dialect::Duckdb.text(text), r"'it''s a \d'");
        assert_eq!(Dialect::Spark.text(text), r"'it\'s a \\d'");
        // No `${...}` reaches Spark's variable substitution.
        let env = "${env:AWS_SECRET_ACCESS_KEY}";
        assert_eq!(
            Dialect::Spark.text(env),
            r"'\u0024{env:AWS_SECRET_ACCESS_KEY}'"
        );
        assert_eq!(Dialect::Duckdb.text(env), format!("'{env}'"));
    }

    #[test]
    fn a_table_is_a_name_not_sql() {
        for good in ["events", "cat.db.events", "_x1"] {
            assert!(check_table(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1x",
            "a.b.c.d",
            "events; DROP TABLE x",
            "a..b",
            "\"e\"",
            "é",
        ] {
            let err = check_table(bad).unwrap_err().to_string();
            assert!(err.starts_with("--events-table"), "{err}");
        }
    }

    #[test]
    fn a_double_reads_back_as_the_same_bits() {
        for x in [0.0016, 12.5 * 0.128 / 1000.0, 0.1 + 0.2, 1e6, 0.0, 5e-324] {
            let text = double(x);
            let inner = &text["CAST(".len()..text.len() - " AS DOUBLE)".len()];
            assert_eq!(
                inner.parse::<f64>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
    }
}
