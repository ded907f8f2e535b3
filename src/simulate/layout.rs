//! How the archive's deployment lays out what a pipeline file must find:
//! where the correlation id sits (URL, logs or both), where the approach sits
//! (URL path, URL query or the origin's rpc method), under which key, and
//! what the scripts, entrypoints, methods, hosts and keys are called. The
//! default is the deployment `pipelines/proxy-fetch.toml` describes.

use anyhow::{bail, Result};
use serde::Serialize;

/// Where a proxied request's legs carry the correlation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IdIn {
    /// In URLs only: every proxied leg is then a fetch whose URL carries it.
    Url,
    /// In JSON log messages only.
    Logs,
    /// The origin URL and every leg's logs.
    #[default]
    Both,
}

/// Where the origin leg says which approach it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ApproachIn {
    /// `/<prefix>/<approach>?...`.
    #[default]
    Path,
    /// `/<prefix>?<approach_key>=<approach>&...`.
    Query,
    /// The origin is called over RPC, one method per approach; no URL.
    Rpc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub id_in: IdIn,
    pub approach_in: ApproachIn,
    /// The key of the correlation id in URLs and logs.
    pub id_key: String,
    /// Other names for every script, entrypoint, method, host, path and key.
    pub renamed: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            id_in: IdIn::Both,
            approach_in: ApproachIn::Path,
            id_key: "reqId".into(),
            renamed: false,
        }
    }
}

impl Layout {
    /// A layout no deployment could have is one line naming its flags.
    pub fn check(&self) -> Result<()> {
        let k = &self.id_key;
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if k.is_empty() || k.len() > 32 || !k.chars().all(word) {
            bail!("--id-key {k:?} must be 1-32 characters of A-Z, a-z, 0-9 and _");
        }
        let names = self.names();
        // The id beside a key of the same name would make the URL or log ambiguous.
        let taken = [
            names.delay_key,
            names.approach_key,
            "target",
            "message",
            "data",
            "status",
        ];
        if taken.contains(&k.as_str()) {
            bail!(
                "--id-key {k:?} is a key this layout already writes ({}): choose another",
                taken.join(", ")
            );
        }
        if self.approach_in == ApproachIn::Rpc && self.id_in != IdIn::Logs {
            bail!("--approach-in rpc needs --id-in logs, not --id-in {}: the origin is called over RPC, which has no URL: use --id-in logs", self.id_in.name());
        }
        Ok(())
    }

    /// What model.json and archive.json say about the layout.
    pub fn record(&self) -> serde_json::Value {
        serde_json::json!({
            "id_in": self.id_in,
            "approach_in": self.approach_in,
            "id_key": self.id_key,
            "renamed": self.renamed,
            "names": self.names(),
        })
    }

    pub fn names(&self) -> &'static Names {
        if self.renamed {
            &RENAMED
        } else {
            &CLASSIC
        }
    }

    pub fn id_in_url(&self) -> bool {
        self.id_in != IdIn::Logs
    }

    pub fn id_in_logs(&self) -> bool {
        self.id_in != IdIn::Url
    }

    /// Every leg of a proxied request is a fetch that carries the id in its URL.
    pub fn all_fetch(&self) -> bool {
        self.id_in == IdIn::Url
    }
}

impl IdIn {
    pub fn name(self) -> &'static str {
        match self {
            IdIn::Url => "url",
            IdIn::Logs => "logs",
            IdIn::Both => "both",
        }
    }
}

/// What the archive deployment calls things.
#[derive(Debug, Serialize)]
pub struct Names {
    pub origin_script: &'static str,
    pub orchestrator_script: &'static str,
    pub executor_script: &'static str,
    pub marketing_script: &'static str,
    pub cron_script: &'static str,
    pub origin: &'static str,
    pub orchestrator: &'static str,
    pub executor: &'static str,
    pub executor_target: &'static str,
    pub dashboard: &'static str,
    pub orchestrator_method: &'static str,
    pub executor_method: &'static str,
    pub callback_method: &'static str,
    /// The origin's rpc method per approach, in the order of `Approach::ALL`
    /// (direct, current, simple, rpc-target).
    pub origin_methods: [&'static str; 4],
    pub origin_host: &'static str,
    pub orchestrator_host: &'static str,
    pub executor_host: &'static str,
    pub marketing_host: &'static str,
    /// The origin URL's path prefix.
    pub prefix: &'static str,
    pub dashboard_path: &'static str,
    pub orchestrator_path: &'static str,
    pub executor_path: &'static str,
    pub callback_path: &'static str,
    pub delay_key: &'static str,
    pub approach_key: &'static str,
}

pub const CLASSIC: Names = Names {
    origin_script: "experiment-origin",
    orchestrator_script: "proxy-orchestrator",
    executor_script: "proxy-executor",
    marketing_script: "marketing-site",
    cron_script: "nightly-cleanup",
    origin: "OriginDO",
    orchestrator: "Orchestrator",
    executor: "FetchExecutor",
    executor_target: "FetchExecutorTarget",
    dashboard: "DashboardDO",
    orchestrator_method: "enqueueFetch",
    executor_method: "executeFetch",
    callback_method: "onFetchResult",
    origin_methods: [
        "fetchDirect",
        "proxyFetch",
        "proxyFetchSimple",
        "proxyFetchRpcTarget",
    ],
    origin_host: "https://experiment.example.com",
    orchestrator_host: "https://proxy-orchestrator.internal",
    executor_host: "https://proxy-executor.internal",
    marketing_host: "https://www.example.com",
    prefix: "/experiment",
    dashboard_path: "/dashboard/stats",
    orchestrator_path: "/enqueue",
    executor_path: "/execute",
    callback_path: "/result",
    delay_key: "delay",
    approach_key: "approach",
};

pub const RENAMED: Names = Names {
    origin_script: "ledger-api",
    orchestrator_script: "relay-hub",
    executor_script: "outbound-fetcher",
    marketing_script: "brochure-site",
    cron_script: "hourly-janitor",
    origin: "AccountDO",
    orchestrator: "RelayDO",
    executor: "Fetcher",
    executor_target: "FetcherTarget",
    dashboard: "MetricsDO",
    orchestrator_method: "submitJob",
    executor_method: "runJob",
    callback_method: "deliverResult",
    origin_methods: ["callDirect", "relayCall", "forwardCall", "targetCall"],
    origin_host: "https://ledger.example.org",
    orchestrator_host: "https://hub.ledger.internal",
    executor_host: "https://fetcher.ledger.internal",
    marketing_host: "https://www.ledger.example.org",
    prefix: "/relay",
    dashboard_path: "/admin/metrics",
    orchestrator_path: "/submit",
    executor_path: "/run",
    callback_path: "/deliver",
    delay_key: "wait",
    approach_key: "mode",
};
