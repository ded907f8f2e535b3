//! The simulator's archive layouts (issue 17) and the pipeline file a person
//! would write for each: shared by the layout tests and the SQL emitter's.

/// What a deployment calls things, written out by hand (not read from the simulator).
pub struct Names {
    pub origin_script: &'static str,
    pub orchestrator_script: &'static str,
    pub executor_script: &'static str,
    pub origin: &'static str,
    pub orchestrator: &'static str,
    /// The origin's rpc methods for direct, current, simple, rpc-target.
    pub methods: [&'static str; 4],
    pub callback_method: &'static str,
    pub prefix: &'static str,
    pub callback_path: &'static str,
    pub delay_key: &'static str,
    pub approach_key: &'static str,
}

pub const CLASSIC: Names = Names {
    origin_script: "experiment-origin",
    orchestrator_script: "proxy-orchestrator",
    executor_script: "proxy-executor",
    origin: "OriginDO",
    orchestrator: "Orchestrator",
    methods: [
        "fetchDirect",
        "proxyFetch",
        "proxyFetchSimple",
        "proxyFetchRpcTarget",
    ],
    callback_method: "onFetchResult",
    prefix: "/experiment",
    callback_path: "/result",
    delay_key: "delay",
    approach_key: "approach",
};

pub const RENAMED: Names = Names {
    origin_script: "ledger-api",
    orchestrator_script: "relay-hub",
    executor_script: "outbound-fetcher",
    origin: "AccountDO",
    orchestrator: "RelayDO",
    methods: ["callDirect", "relayCall", "forwardCall", "targetCall"],
    callback_method: "deliverResult",
    prefix: "/relay",
    callback_path: "/deliver",
    delay_key: "wait",
    approach_key: "mode",
};

pub const APPROACHES: [&str; 4] = ["direct", "current", "simple", "rpc-target"];

pub struct Case {
    pub id_in: &'static str,
    pub approach_in: &'static str,
    pub id_key: &'static str,
    pub renamed: bool,
}

impl Case {
    pub fn names(&self) -> &'static Names {
        if self.renamed {
            &RENAMED
        } else {
            &CLASSIC
        }
    }

    pub fn flags(&self) -> Vec<&str> {
        let mut f = vec![
            "--runs",
            "4",
            "--rpc-target",
            "--id-in",
            self.id_in,
            "--approach-in",
            self.approach_in,
            "--id-key",
            self.id_key,
        ];
        if self.renamed {
            f.push("--renamed");
        }
        f
    }

    /// The pipeline file a person would write for this layout.
    pub fn pipeline(&self, name: &str) -> String {
        let n = self.names();
        let key = self.id_key;
        let (url_id, log_id) = match self.id_in {
            "url" => (true, false),
            "logs" => (false, true),
            _ => (true, true),
        };
        let callback = if self.id_in == "url" {
            format!("event_type = \"fetch\"\nurl = '{}\\?'", n.callback_path)
        } else {
            format!("rpc_method = \"{}\"", n.callback_method)
        };
        let methods = |f: &dyn Fn(usize, &str) -> String| -> String {
            (n.methods.iter().enumerate())
                .map(|(i, m)| f(i, m))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let origin = if self.approach_in == "rpc" {
            format!("rpc_method = [{}]", methods(&|_, m| format!("\"{m}\"")))
        } else {
            format!("event_type = \"fetch\"\nurl = '{}[/?]'", n.prefix)
        };
        let approach = match self.approach_in {
            "path" => format!("url_regex = '{}/([a-z-]+)'", n.prefix),
            "query" => format!("url_query = \"{}\"", n.approach_key),
            _ => format!(
                "rpc_method = {{ {} }}",
                methods(&|i, m| format!("{m} = \"{}\"", APPROACHES[i]))
            ),
        };
        let delay = match self.approach_in {
            "rpc" => format!(
                "log_regex = '(?:\"{}\"\\s*:\\s*|/delay/)(\\d+)'",
                n.delay_key
            ),
            _ => format!(
                "url_query = \"{}\"\nurl_regex = 'delay%2F(\\d+)'\nlog_regex = '/delay/(\\d+)'",
                n.delay_key
            ),
        };
        let url_re = format!("'[?&]{key}=([0-9a-f]+)'");
        let log_re = format!("'\"{key}\"\\s*:\\s*\"([0-9a-f]+)\"'");
        format!(
            r#"name = "{name}"

[transform.filters]
scripts = ["{os}", "{rs}", "{es}"]
event_types = ["fetch", "worker_rpc", "rpc"]

[[transform.roles]]
name = "callback"
billing = "do"
script = "{os}"
entrypoint = "{o}"
{callback}

[[transform.roles]]
name = "origin"
billing = "do"
script = "{os}"
entrypoint = "{o}"
{origin}

[[transform.roles]]
name = "orchestrator"
billing = "do"
script = "{rs}"
entrypoint = "{r}"

[[transform.roles]]
name = "executor"
billing = "worker"
script = "{es}"

[transform.correlation]
url = [{url}]
logs = [{logs}]

[transform.approach]
{approach}
role_present = {{ orchestrator = "current" }}

[transform.delay]
{delay}

[transform.approaches.direct]
required_roles = ["origin"]

[transform.approaches.current]
required_roles = ["origin", "orchestrator", "executor", "callback"]
rows_written = 1
rows_read = 1

[transform.approaches.simple]
required_roles = ["origin", "executor", "callback"]
rows_written = 1
rows_read = 1

[transform.approaches.rpc-target]
required_roles = ["origin", "executor", "callback"]
rows_written = 1
rows_read = 1
"#,
            os = n.origin_script,
            rs = n.orchestrator_script,
            es = n.executor_script,
            o = n.origin,
            r = n.orchestrator,
            url = if url_id { url_re.as_str() } else { "" },
            logs = if log_id { log_re.as_str() } else { "" },
        )
    }
}
