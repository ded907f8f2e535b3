//! `[transform.filters]`: which lake rows a pipeline reads (scripts, event
//! types). The transform and `mirror --wait` select by the same rule.

use polars::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Only these scripts (empty: all).
    #[serde(default)]
    pub scripts: Vec<String>,
    /// Only these event types (empty: all).
    #[serde(default)]
    pub event_types: Vec<String>,
}

impl Filters {
    /// `true` for a lake row of a selected script.
    pub fn script_selected(&self) -> Expr {
        let values: Vec<&str> = self.scripts.iter().map(String::as_str).collect();
        any_of("ScriptName", &values).unwrap_or(lit(true))
    }

    /// `true` for a lake row of a selected event type.
    pub fn event_type_selected(&self) -> Expr {
        let values: Vec<&str> = self.event_types.iter().map(String::as_str).collect();
        any_of("EventType", &values).unwrap_or(lit(true))
    }

    /// `true` for a lake row that passes both filters.
    pub fn selected(&self) -> Expr {
        self.script_selected().and(self.event_type_selected())
    }
}

/// `column` equals one of `values` (a null is not); `None` for no values.
pub fn any_of(column: &str, values: &[&str]) -> Option<Expr> {
    values
        .iter()
        .map(|v| col(column).eq(lit(*v)))
        .reduce(|a, b| a.or(b))
        .map(|e| e.fill_null(lit(false)))
}
