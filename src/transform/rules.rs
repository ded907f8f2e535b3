//! `[transform]` of the pipeline file: how legs get a role, a correlation id,
//! an approach and a delay, and what makes a request complete. Everything a
//! deployment makes distinctive is stated here, not in code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use polars::prelude::*;
use serde::Deserialize;

use crate::core::named::Named;
use crate::lake::filters::{any_of, Filters};

/// One value or a list of values, in TOML: `script = "a"` or `script = ["a", "b"]`.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(v) => vec![v.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

pub use crate::core::cost::{Billing, RoleBilling};

/// A role rule: a leg takes the role of the first rule all of whose given fields match.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    pub name: String,
    pub billing: Billing,
    #[serde(default)]
    pub script: OneOrMany,
    #[serde(default)]
    pub entrypoint: OneOrMany,
    #[serde(default)]
    pub event_type: OneOrMany,
    #[serde(default)]
    pub rpc_method: OneOrMany,
    #[serde(default)]
    pub execution_model: OneOrMany,
    /// Regex searched in the request URL.
    pub url: Option<String>,
    /// Whether a leg of this role is billed a request fee; by default
    /// [`Billing::bills_requests`], the published rule.
    pub request_billed: Option<bool>,
}

impl RoleRule {
    /// The lake columns a rule's lists of values match, with those values.
    pub fn field_values(&self) -> [(&'static str, &OneOrMany); 5] {
        [
            ("ScriptName", &self.script),
            ("Entrypoint", &self.entrypoint),
            ("EventType", &self.event_type),
            ("RpcMethod", &self.rpc_method),
            ("ExecutionModel", &self.execution_model),
        ]
    }

    /// Whether a leg of this role is billed a request fee.
    pub fn request_billed(&self) -> bool {
        self.request_billed
            .unwrap_or_else(|| self.billing.bills_requests())
    }
}

/// Regexes whose first capture group is the correlation id, tried in order.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Correlation {
    #[serde(default)]
    pub url: Vec<String>,
    #[serde(default)]
    pub logs: Vec<String>,
}

/// Where a request's approach or delay comes from; the sources are tried in
/// the order of the fields below, over the legs of the request in time order.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct AttributeRule {
    /// Name of a query parameter of the request URL.
    pub url_query: Option<String>,
    /// Regex over the request URL; the first capture group is the value.
    pub url_regex: Option<String>,
    /// Regex over the log messages; the first capture group is the value.
    pub log_regex: Option<String>,
    /// rpcMethod → value.
    #[serde(default)]
    pub rpc_method: BTreeMap<String, String>,
    /// Role → value when a leg of that role is part of the request (approach only).
    #[serde(default)]
    pub role_present: BTreeMap<String, String>,
    /// Value for the whole input.
    pub constant: Option<toml::Value>,
    /// Renames extracted values, e.g. `proxyFetch = "current"`.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproachSpec {
    /// Roles that must all be present for a request to be complete.
    #[serde(default)]
    pub required_roles: Vec<String>,
    /// SQLite-backed storage rows written and read per request.
    #[serde(default)]
    pub rows_written: f64,
    #[serde(default)]
    pub rows_read: f64,
}

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct TransformSection {
    #[serde(default)]
    pub roles: Vec<RoleRule>,
    #[serde(default)]
    pub correlation: Correlation,
    #[serde(default)]
    pub approach: AttributeRule,
    #[serde(default)]
    pub delay: AttributeRule,
    #[serde(default)]
    pub approaches: BTreeMap<String, ApproachSpec>,
    #[serde(default)]
    pub filters: Filters,
    /// CSV of `approach, delay_ms, start, end[, run_id, client_latency_ms]`.
    pub run_manifest: Option<PathBuf>,
    /// Pieces the window is joined in, one at a time; by default one per
    /// 7 MB of lake files. More pieces, less memory; the outputs are the same.
    pub partitions: Option<usize>,
}

/// Most pieces a window is joined in: each holds an open file while the
/// lake is spread, and a piece of 7 MB of lake files is already small.
pub const MAX_PARTITIONS: usize = 4096;

fn check_regex(field: &str, pattern: &str, capture: bool) -> Result<()> {
    match regex::Regex::new(pattern) {
        Err(e) => {
            let e = e.to_string().replace('\n', " ");
            bail!("transform.{field}: regex `{pattern}` does not compile: {e}")
        }
        Ok(re) if capture && re.captures_len() < 2 => {
            bail!(
                "transform.{field}: regex `{pattern}` has no capture group: wrap the value in ( )"
            )
        }
        Ok(_) => Ok(()),
    }
}

impl TransformSection {
    /// Checks what serde cannot: regexes, and names that refer to each other.
    pub fn validate(&self) -> Result<()> {
        if self.roles.is_empty() {
            bail!("the pipeline file has no [[transform.roles]]: declare at least the origin role (see README, Transform)");
        }
        if let Some(n) = self
            .partitions
            .filter(|n| !(1..=MAX_PARTITIONS).contains(n))
        {
            bail!("transform.partitions = {n}: give 1 to {MAX_PARTITIONS}, or leave it out to size pieces by the lake");
        }
        let roles: Vec<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        for (i, rule) in self.roles.iter().enumerate() {
            if let Some(url) = &rule.url {
                check_regex(&format!("roles[{i}].url ({})", rule.name), url, false)?;
            }
            self.check_same_billing(i, rule)?;
        }
        for (i, p) in self.correlation.url.iter().enumerate() {
            check_regex(&format!("correlation.url[{i}]"), p, true)?;
        }
        for (i, p) in self.correlation.logs.iter().enumerate() {
            check_regex(&format!("correlation.logs[{i}]"), p, true)?;
        }
        for (name, rule) in [("approach", &self.approach), ("delay", &self.delay)] {
            if let Some(p) = &rule.url_regex {
                check_regex(&format!("{name}.url_regex"), p, true)?;
            }
            if let Some(p) = &rule.log_regex {
                check_regex(&format!("{name}.log_regex"), p, true)?;
            }
            for role in rule.role_present.keys() {
                if !roles.contains(&role.as_str()) {
                    bail!("transform.{name}.role_present names role `{role}`, which no [[transform.roles]] defines");
                }
            }
        }
        if !self.delay.role_present.is_empty() {
            bail!("transform.delay.role_present: a delay cannot follow from which roles took part; use url_query, url_regex, log_regex, rpc_method or constant");
        }
        if let Some(c) = &self.delay.constant {
            if c.as_integer().is_none_or(|ms| ms < 0) {
                bail!("transform.delay.constant must be a whole number of milliseconds, 0 or more, not {c}");
            }
        }
        if let Some(c) = &self.approach.constant {
            if c.as_str().is_none() {
                bail!("transform.approach.constant must be an approach name in quotes, not {c}");
            }
        }
        for (approach, spec) in &self.approaches {
            for (field, rows) in [
                ("rows_written", spec.rows_written),
                ("rows_read", spec.rows_read),
            ] {
                if !rows.is_finite() || rows < 0.0 {
                    bail!("transform.approaches.{approach}.{field} = {rows}: give a finite number of rows, 0 or more");
                }
            }
            for role in &spec.required_roles {
                if !roles.contains(&role.as_str()) {
                    bail!("transform.approaches.{approach}.required_roles names role `{role}`, which no [[transform.roles]] defines");
                }
            }
        }
        Ok(())
    }

    /// A role's legs are billed one way: the rules of one name agree on
    /// `billing` and `request_billed` (the first rule of a name decides both).
    fn check_same_billing(&self, i: usize, rule: &RoleRule) -> Result<()> {
        let first = (self.roles.iter())
            .find(|r| r.name == rule.name)
            .expect("the rule itself");
        if first.billing != rule.billing {
            bail!(
                "transform.roles[{i}].billing = \"{}\": an earlier rule of role `{}` says \"{}\"; one role is billed one way",
                rule.billing.name(),
                rule.name,
                first.billing.name()
            );
        }
        if first.request_billed() != rule.request_billed() {
            bail!(
                "transform.roles[{i}].request_billed = {}: an earlier rule of role `{}` gives {}; one role is billed one way",
                rule.request_billed(),
                rule.name,
                first.request_billed()
            );
        }
        Ok(())
    }

    /// Per role, in rule order: its billing and whether its legs are billed
    /// a request fee, so the report can state the assumption behind the cost.
    pub fn billing_assumptions(&self) -> Vec<RoleBilling> {
        let mut out: Vec<RoleBilling> = Vec::new();
        for r in &self.roles {
            if !out.iter().any(|b| b.role == r.name) {
                out.push(RoleBilling {
                    role: r.name.clone(),
                    billing: r.billing,
                    request_billed: r.request_billed(),
                    explicit: r.request_billed.is_some(),
                });
            }
        }
        out
    }

    /// Role names in rule order, without repeats.
    pub fn role_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.roles {
            if !out.contains(&r.name) {
                out.push(r.name.clone());
            }
        }
        out
    }
}

/// A null of the string type (a bare `NULL` literal has no type).
pub fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// The role of a leg by the first matching rule, null when none matches.
pub fn role_expr(rules: &[RoleRule]) -> Expr {
    let conditions: Vec<(Expr, &str)> = rules
        .iter()
        .map(|r| {
            let mut parts: Vec<Expr> = (r.field_values().into_iter())
                .filter_map(|(column, values)| any_of(column, &values.values()))
                .collect();
            if let Some(url) = &r.url {
                parts.push(
                    col("RequestURL")
                        .str()
                        .contains(lit(url.as_str()), true)
                        .fill_null(lit(false)),
                );
            }
            let condition = parts
                .into_iter()
                .reduce(|a, b| a.and(b))
                .unwrap_or(lit(true));
            (condition, r.name.as_str())
        })
        .collect();
    chain(conditions, null_str())
}

/// How each role is billed.
pub fn billing_expr(rules: &[RoleRule], role: Expr) -> Expr {
    let conditions = rules
        .iter()
        .map(|r| (role.clone().eq(lit(r.name.as_str())), r.billing.name()))
        .collect();
    chain(conditions, null_str())
}

/// Whether each role's legs are billed a request fee; null without a role.
pub fn request_billed_expr(rules: &[RoleRule], role: Expr) -> Expr {
    let none = lit(NULL).cast(DataType::Boolean);
    rules.iter().rev().fold(none, |acc, r| {
        when(role.clone().eq(lit(r.name.as_str())))
            .then(lit(r.request_billed()))
            .otherwise(acc)
    })
}

/// `when(c1).then(v1).when(c2).then(v2)...otherwise(e)`, as nested whens.
fn chain(conditions: Vec<(Expr, &str)>, otherwise: Expr) -> Expr {
    conditions
        .into_iter()
        .rev()
        .fold(otherwise, |acc, (c, v)| when(c).then(lit(v)).otherwise(acc))
}

/// The correlation id a leg carries, from the first regex that matches.
pub fn correlation_expr(c: &Correlation) -> Expr {
    let mut exprs: Vec<Expr> = c
        .url
        .iter()
        .map(|p| col("RequestURL").str().extract(lit(p.as_str()), 1))
        .collect();
    exprs.extend(
        c.logs
            .iter()
            .map(|p| col("LogMessages").str().extract(lit(p.as_str()), 1)),
    );
    match exprs.len() {
        0 => null_str(),
        _ => coalesce(&exprs),
    }
}

/// The value a leg gives for an attribute (approach or delay), before renaming.
pub fn leg_attribute_expr(rule: &AttributeRule) -> Expr {
    let mut exprs = Vec::new();
    if let Some(name) = &rule.url_query {
        let pattern = crate::core::url::query_pattern(name);
        exprs.push(col("RequestURL").str().extract(lit(pattern), 1));
    }
    if let Some(p) = &rule.url_regex {
        exprs.push(col("RequestURL").str().extract(lit(p.as_str()), 1));
    }
    if let Some(p) = &rule.log_regex {
        exprs.push(col("LogMessages").str().extract(lit(p.as_str()), 1));
    }
    if !rule.rpc_method.is_empty() {
        let conditions = rule
            .rpc_method
            .iter()
            .map(|(method, value)| {
                (
                    col("RpcMethod")
                        .eq(lit(method.as_str()))
                        .fill_null(lit(false)),
                    value.as_str(),
                )
            })
            .collect();
        exprs.push(chain(conditions, null_str()));
    }
    let value = match exprs.len() {
        0 => null_str(),
        _ => coalesce(&exprs),
    };
    rename(value, &rule.rename)
}

fn rename(value: Expr, names: &BTreeMap<String, String>) -> Expr {
    if names.is_empty() {
        return value;
    }
    let conditions = names
        .iter()
        .map(|(from, to)| (value.clone().eq(lit(from.as_str())), to.as_str()))
        .collect();
    chain(conditions, value)
}

/// Column holding whether a request has a leg of `role`.
pub fn has_role_column(role: &str) -> String {
    format!("has_role:{role}")
}

/// The request-level fallbacks for the approach: role presence, then the constant.
pub fn approach_fallback_expr(rule: &AttributeRule, current: Expr) -> Expr {
    let mut conditions: Vec<(Expr, &str)> = rule
        .role_present
        .iter()
        .map(|(role, approach)| (col(has_role_column(role)), approach.as_str()))
        .collect();
    let constant = rule.constant.as_ref().and_then(|c| c.as_str());
    if let Some(c) = constant {
        conditions.push((lit(true), c));
    }
    let fallback = chain(conditions, null_str());
    coalesce(&[current, fallback])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml: &str) -> Result<TransformSection> {
        let s: TransformSection = toml::from_str(toml)?;
        s.validate()?;
        Ok(s)
    }

    const ROLES: &str = "[[roles]]\nname = \"origin\"\nbilling = \"do\"\nscript = \"a\"\n";

    #[test]
    fn bad_regexes_are_named() {
        let err = section(&format!("{ROLES}[correlation]\nurl = ['reqId=(']\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("correlation.url[0]") && err.contains("does not compile"),
            "{err}"
        );
        let err = section(&format!("{ROLES}[delay]\nurl_regex = '/delay/\\d+'\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("delay.url_regex") && err.contains("no capture group"),
            "{err}"
        );
    }

    #[test]
    fn unknown_roles_and_fields_are_refused() {
        let err = section(&format!(
            "{ROLES}[approaches.direct]\nrequired_roles = ['orign']\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("orign"), "{err}");
        let err = section(&format!("{ROLES}[approach]\nurl_qurey = 'a'\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("url_qurey"), "{err}");
        assert!(section("").is_err());
    }

    #[test]
    fn request_fees_follow_the_published_rule_unless_set() {
        let s = section(
            "[[roles]]\nname='origin'\nbilling='do'\n\
             [[roles]]\nname='executor'\nbilling='worker'\n\
             [[roles]]\nname='front'\nbilling='worker'\nrequest_billed=true\n\
             [[roles]]\nname='origin'\nbilling='do'\nscript='b'\n",
        )
        .unwrap();
        let got: Vec<(String, bool, bool)> = (s.billing_assumptions().into_iter())
            .map(|b| (b.role, b.request_billed, b.explicit))
            .collect();
        let want = [
            ("origin", true, false),
            ("executor", false, false),
            ("front", true, true),
        ];
        let want: Vec<(String, bool, bool)> = want
            .map(|(r, billed, explicit)| (r.to_string(), billed, explicit))
            .to_vec();
        assert_eq!(got, want);
        let err = section(&format!(
            "{ROLES}[[roles]]\nname='origin'\nbilling='do'\nrequest_billed=false\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("transform.roles[1].request_billed = false"),
            "{err}"
        );
        let err = section(&format!(
            "{ROLES}[[roles]]\nname='origin'\nbilling='worker'\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("transform.roles[1].billing"), "{err}");
        let err = section(&format!("{ROLES}request_billed='yes'\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("request_billed"), "{err}");
    }

    #[test]
    fn rules_classify_legs() {
        let s = section(
            "[[roles]]\nname='callback'\nbilling='do'\nentrypoint='OriginDO'\nrpc_method='onFetchResult'\n\
             [[roles]]\nname='origin'\nbilling='do'\nentrypoint='OriginDO'\n\
             [[roles]]\nname='executor'\nbilling='worker'\nurl='/exec'\n\
             [approach]\nurl_query='approach'\nrename={proxyFetch='current'}\n",
        )
        .unwrap();
        let df = df! {
            "Entrypoint" => [Some("OriginDO"), Some("OriginDO"), None, Some("Other")],
            "RpcMethod" => [Some("onFetchResult"), None, None, None],
            "RequestURL" => [None, Some("https://x/y?approach=proxyFetch&d=1"), Some("https://x/exec?approach=direct"), None],
            "ScriptName" => ["s", "s", "s", "s"],
            "EventType" => ["worker_rpc", "fetch", "fetch", "fetch"],
            "ExecutionModel" => ["durableObject", "durableObject", "stateless", "stateless"],
            "LogMessages" => [None::<&str>, None, None, None],
        }
        .unwrap();
        let out = df
            .lazy()
            .select([
                role_expr(&s.roles).alias("role"),
                billing_expr(&s.roles, role_expr(&s.roles)).alias("billing"),
                request_billed_expr(&s.roles, role_expr(&s.roles)).alias("request_billed"),
                leg_attribute_expr(&s.approach).alias("approach"),
            ])
            .collect()
            .unwrap();
        let col = |n: &str| {
            out.column(n)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.map(String::from))
                .collect::<Vec<_>>()
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            col("role"),
            [s("callback"), s("origin"), s("executor"), None]
        );
        assert_eq!(col("billing"), [s("do"), s("do"), s("worker"), None]);
        let billed: Vec<Option<bool>> = out
            .column("request_billed")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(billed, [Some(true), Some(true), Some(false), None]);
        assert_eq!(col("approach"), [None, s("current"), s("direct"), None]);
    }
}
