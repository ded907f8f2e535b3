//! `tracecost explore`: what the lake holds, and a first pipeline file drawn
//! from it.
//!
//! Two streaming passes over the window's lake files. The first
//! (`survey`) counts each kind of leg (the inventory) and the fields its URL
//! and logs carry, with a hash sample of each field's values; `ids` ranks the
//! fields that join legs of different scripts or entrypoints as correlation
//! ids. The second (`groups`) groups legs by the chosen id with the regexes a
//! drafted pipeline gives the transform, and `guess` reads roles, drivers,
//! approach, delay and required roles from the groups. `draft` writes it all
//! as a commented pipeline file.

mod draft;
mod fields;
mod groups;
mod guess;
mod ids;
mod output;
mod scan;
mod survey;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::core::paths::is_folder_name;
use crate::core::window::Window;
use crate::io::atomic::write_atomic;
use crate::lake::manifest::Manifest;
use crate::lake::LakeLock;
use groups::{Extractor, Grouping};
use guess::Guess;
use ids::IdCandidate;
use scan::Scanned;
use survey::Survey;

/// Most name-like fields followed into the second pass.
const MAX_ATTRIBUTES: usize = 256;

/// What `explore` needs; `settings` resolves it from flags and an optional pipeline file.
#[derive(Debug, Clone)]
pub struct Options {
    pub lake: PathBuf,
    pub window: Window,
    /// Folder that receives `explore/inventory.csv` and the other tables.
    pub out: PathBuf,
    /// Where to write the drafted pipeline file, if anywhere.
    pub draft: Option<PathBuf>,
    /// Replace an existing draft file.
    pub force: bool,
    /// `[source] location` for the draft; else the lake manifest's.
    pub source: Option<String>,
}

/// Everything the exploration found, for the printout, the files and the draft.
pub struct Findings {
    pub lake: PathBuf,
    pub source: Option<String>,
    pub scanned: Scanned,
    pub survey: Survey,
    pub candidates: Vec<IdCandidate>,
    /// The fields the draft correlates by, URL fields first.
    pub id: Vec<Extractor>,
    pub grouping: Grouping,
    pub guess: Guess,
}

impl Findings {
    /// First and last event time, UTC.
    pub fn span(&self) -> String {
        let first = self.survey.shapes.iter().map(|s| s.first).min();
        let last = self.survey.shapes.iter().map(|s| s.last).max();
        match (first.and_then(time), last.and_then(time)) {
            (Some(a), Some(b)) => format!("{a} to {b} UTC"),
            _ => "no events".into(),
        }
    }

    /// Whether the second pass kept only a sample of the groups or legs.
    pub fn sampled(&self) -> bool {
        self.grouping.groups.threshold < u64::MAX
            || self.grouping.singles.iter().any(|s| s.threshold < u64::MAX)
    }
}

pub fn time(ms: i64) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(t.format("%Y-%m-%d %H:%M:%S").to_string())
}

pub fn run(opts: &Options) -> Result<()> {
    if let Some(path) = &opts.draft {
        if path.is_dir() {
            bail!(
                "--draft {} is a folder: give a file name, e.g. {}",
                path.display(),
                path.join("pipeline.toml").display()
            );
        }
        if path.exists() && !opts.force {
            bail!(
                "{} exists: pass --force to replace it, or --draft another file",
                path.display()
            );
        }
    }
    let findings = explore(opts)?;
    print!(
        "{}",
        output::printout(&findings, crate::core::terminal::width())
    );
    // The draft first: it is what the scan was for, and needs no other folder.
    if let Some(path) = &opts.draft {
        let name = draft_name(path);
        write_atomic(path, draft::draft(&findings, &name).as_bytes())?;
        println!(
            "\ndraft: wrote {}; next: tracecost run --pipeline {}",
            path.display(),
            path.display()
        );
    }
    output::write_tables(&findings, &opts.out.join("explore"))
}

/// The draft's pipeline name: its file name when that is a folder name.
fn draft_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    stem.filter(|s| is_folder_name(s))
        .unwrap_or_else(|| "drafted".into())
}

fn explore(opts: &Options) -> Result<Findings> {
    if !opts.lake.join(crate::lake::manifest::FILE_NAME).is_file() {
        bail!("{} is not a lake (no manifest): mirror into it first, e.g. `tracecost mirror --source DIR_OR_S3 --lake {}`", opts.lake.display(), opts.lake.display());
    }
    let _lock = LakeLock::shared(&opts.lake)?;
    let mut survey = Survey::default();
    let mut scanned = scan::each_leg(&opts.lake, &opts.window, |leg, _| survey.add(leg))?;
    if scanned.legs == 0 {
        bail!(
            "the lake {} holds no events in the window: mirror first, or widen --from/--to",
            opts.lake.display()
        );
    }
    let candidates = ids::rank(&survey);
    let id: Vec<Extractor> = match candidates.first() {
        Some(top) => (ids::same_ids(&survey, top.field).into_iter())
            .map(|i| Extractor {
                field: survey.fields[i].field.clone(),
                written: survey.fields[i].written(),
            })
            .collect(),
        None => Vec::new(),
    };
    let attributes: Vec<Extractor> = (survey.fields.iter())
        .filter(|f| ids::is_names(f) && !id.iter().any(|e| e.field == f.field))
        .take(MAX_ATTRIBUTES)
        .map(|f| Extractor {
            field: f.field.clone(),
            written: f.written(),
        })
        .collect();
    let grouping = Grouping::new(&survey, attributes).run(&survey, &id, |f| {
        scanned = scan::each_leg(&opts.lake, &opts.window, f)?;
        Ok(())
    })?;
    let guess = guess::guess(&survey, &grouping);
    let source = (opts.source.clone()).or_else(|| Manifest::load(&opts.lake).ok()?.source);
    Ok(Findings {
        lake: std::fs::canonicalize(&opts.lake).unwrap_or_else(|_| opts.lake.clone()),
        source,
        scanned,
        survey,
        candidates,
        id,
        grouping,
        guess,
    })
}
