//! The input formats tracecost reads.

use super::named::{named_serde, Named};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum InputFormat {
    Logpush,
    Tail,
}

impl Named for InputFormat {
    const ALL: &'static [Self] = &[InputFormat::Logpush, InputFormat::Tail];

    /// The name the manifest, the lake's `source_format` and `--format` use.
    fn name(self) -> &'static str {
        match self {
            InputFormat::Logpush => "logpush",
            InputFormat::Tail => "tail",
        }
    }
}

named_serde!(InputFormat);

impl InputFormat {
    fn help(self) -> &'static str {
        match self {
            InputFormat::Logpush => {
                "Gzipped newline-delimited JSON in PascalCase, as Logpush writes it"
            }
            InputFormat::Tail => {
                "`wrangler tail --format json`: pretty-printed camelCase JSON objects"
            }
        }
    }
}

impl clap::ValueEnum for InputFormat {
    fn value_variants<'a>() -> &'a [Self] {
        Self::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.help()))
    }
}
