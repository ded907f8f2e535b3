//! The input formats tracecost reads.

#[derive(
    clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// Gzipped newline-delimited JSON in PascalCase, as Logpush writes it.
    Logpush,
    /// `wrangler tail --format json`: pretty-printed camelCase JSON objects.
    Tail,
}

impl InputFormat {
    /// The name the manifest, the lake's `source_format` and `--format` use.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Logpush => "logpush",
            InputFormat::Tail => "tail",
        }
    }
}
