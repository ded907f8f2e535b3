//! Issue 14: a fuzz and property harness for the mirror. Real objects from
//! the simulator are mutated (junk lines, deleted and duplicated lines, bit
//! flips, truncation, splices, a byte order mark; gzip members split, padded,
//! corrupted) and mirrored in-process; whatever the mutation:
//!
//! - the mirror returns (no panic) and the run is not failed by content;
//! - every good line (or tail event) that survives intact is in the lake
//!   exactly as often as it was delivered;
//! - lake rows + quarantined lines + counted skips (test lines, sampling
//!   notices) = lines delivered, object by object.
//!
//! `cargo test` runs a few seconds of cases; `FUZZ_CASES=5000 cargo test
//! --release --test mirror_fuzz` runs a longer campaign.

mod common;
use common::walk;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use tracecost::cli::StepArgs;
use tracecost::lake::manifest::{Manifest, Status};
use tracecost::settings::Settings;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

/// Junk a hostile or broken writer could put between lines.
const JUNK: &[&[u8]] = &[
    b"hello",
    b"{",
    b"}",
    b"}{",
    b"{\"a\":",
    b"\"unclosed",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\x00\x00\x00",
    b"\xff\xfe\xfd",
    b"{}",
    b"{\"EventTimestampMs\":1e20}",
    b"{\"eventTimestamp\":10000000000000000}",
    b"\x1b[31m",
    b"  \"wallTime\": 3,",
];

#[derive(Debug, Clone)]
enum Edit {
    InsertJunk { at: usize, junk: usize },
    DeleteLine { at: usize },
    DuplicateLine { at: usize },
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
    Splice { from: usize, len: usize, to: usize },
    Bom,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..JUNK.len()).prop_map(|(at, junk)| Edit::InsertJunk { at, junk }),
        any::<usize>().prop_map(|at| Edit::DeleteLine { at }),
        any::<usize>().prop_map(|at| Edit::DuplicateLine { at }),
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit { at, bit }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
        (any::<usize>(), 1usize..400, any::<usize>()).prop_map(|(from, len, to)| Edit::Splice {
            from,
            len,
            to
        }),
        Just(Edit::Bom),
    ]
}

/// What happens to the gzip bytes after the text is compressed.
#[derive(Debug, Clone)]
enum Wrap {
    Plain,
    Members { cuts: Vec<usize> },
    Padding { zeros: usize },
    Junk,
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
}

fn wrap() -> impl Strategy<Value = Wrap> {
    prop_oneof![
        3 => Just(Wrap::Plain),
        2 => proptest::collection::vec(any::<usize>(), 1..4).prop_map(|cuts| Wrap::Members { cuts }),
        1 => (1usize..5000).prop_map(|zeros| Wrap::Padding { zeros }),
        1 => Just(Wrap::Junk),
        1 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Wrap::FlipBit { at, bit }),
        1 => any::<usize>().prop_map(|at| Wrap::Truncate { at }),
    ]
}

fn apply(text: &mut Vec<u8>, edit: &Edit) {
    let line_starts = |t: &[u8]| {
        std::iter::once(0)
            .chain(
                t.iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect::<Vec<_>>()
    };
    let starts = line_starts(text);
    let line_at = |at: usize| {
        let i = at % starts.len();
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        (starts[i], end)
    };
    match *edit {
        Edit::InsertJunk { at, junk } => {
            let (start, _) = line_at(at);
            let mut line = JUNK[junk].to_vec();
            line.push(b'\n');
            text.splice(start..start, line);
        }
        Edit::DeleteLine { at } => {
            let (start, end) = line_at(at);
            text.drain(start..end);
        }
        Edit::DuplicateLine { at } => {
            let (start, end) = line_at(at);
            let copy = text[start..end].to_vec();
            text.splice(start..start, copy);
        }
        Edit::FlipBit { at, bit } if !text.is_empty() => {
            let i = at % text.len();
            text[i] ^= 1 << bit;
        }
        Edit::Truncate { at } => text.truncate(at % (text.len() + 1)),
        Edit::Splice { from, len, to } if !text.is_empty() => {
            let from = from % text.len();
            let piece = text[from..(from + len).min(text.len())].to_vec();
            let to = to % (text.len() + 1);
            text.splice(to..to, piece);
        }
        Edit::Bom => {
            text.splice(0..0, *b"\xEF\xBB\xBF");
        }
        _ => {}
    }
}

/// Compresses `text` as `wrap` says; `true` when the compressed bytes
/// themselves were damaged (then only accounting is promised).
fn compress(text: &[u8], wrap: &Wrap) -> (Vec<u8>, bool) {
    let gz = |t: &[u8]| common::gzip(t);
    match wrap {
        Wrap::Plain => (gz(text), false),
        Wrap::Members { cuts } => {
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
            cuts.sort();
            let mut out = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([text.len()]) {
                out.extend(gz(&text[from..cut]));
                from = cut;
            }
            (out, false)
        }
        Wrap::Padding { zeros } => ([gz(text), vec![0; *zeros]].concat(), false),
        Wrap::Junk => ([gz(text), b"not gzip at all".to_vec()].concat(), false),
        Wrap::FlipBit { at, bit } => {
            let mut out = gz(text);
            let i = at % out.len();
            out[i] ^= 1 << bit;
            (out, true)
        }
        Wrap::Truncate { at } => {
            let mut out = gz(text);
            out.truncate(at % (out.len() + 1));
            (out, true)
        }
    }
}

/// The events the lake must hold for `text`: event id → at least how often
/// (intact deliveries) and at most how often (the event's bytes appear).
type Expected = HashMap<String, (usize, usize)>;

/// Adds the upper bounds: how often each good event's bytes appear in `text`.
fn with_upper_bounds(
    mut min: HashMap<String, usize>,
    text: &[u8],
    good: &HashMap<Vec<u8>, String>,
) -> Expected {
    let mut out = Expected::new();
    for (bytes, id) in good {
        let n = min.remove(id).unwrap_or(0);
        let max = memchr::memmem::find_iter(text, bytes).count();
        out.insert(id.clone(), (n, max));
    }
    out
}

/// Logpush: every line that is one of the original good lines, intact.
fn intact_lines(text: &[u8], good: &HashMap<Vec<u8>, String>) -> Expected {
    let mut out = HashMap::<String, usize>::new();
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    for line in text.split(|b| *b == b'\n') {
        if let Some(id) = good.get(line.trim_ascii()) {
            *out.entry(id.clone()).or_default() += 1;
        }
    }
    with_upper_bounds(out, text, good)
}

/// Tail: every original event block (a `{` line to the next `}` line),
/// intact. A block that is not intact may still be the same event (a key
/// line repeated parses to the same object): the upper bound counts every
/// block that parses to the event too.
fn intact_blocks(text: &[u8], good: &HashMap<Vec<u8>, String>) -> Expected {
    let mut out = HashMap::<String, usize>::new();
    let mut parsed = HashMap::<String, usize>::new();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let line = if i == 0 {
            line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
        } else {
            line
        };
        if line != b"{" {
            continue;
        }
        let Some(len) = lines[i + 1..].iter().position(|l| l.starts_with(b"}")) else {
            continue;
        };
        let block = [&[b'{'][..], b"\n", &lines[i + 1..=i + 1 + len].join(&b'\n')].concat();
        if let Some(id) = good.get(&block) {
            *out.entry(id.clone()).or_default() += 1;
        }
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&block) {
            *parsed
                .entry(hex(xxhash_rust::xxh3::xxh3_64(
                    value.to_string().as_bytes(),
                )))
                .or_default() += 1;
        }
    }
    let mut bounds = with_upper_bounds(out, text, good);
    for (id, (_, max)) in bounds.iter_mut() {
        *max = (*max).max(parsed.get(id).copied().unwrap_or(0));
    }
    bounds
}

struct Base {
    logpush: Vec<u8>,
    logpush_ids: HashMap<Vec<u8>, String>,
    tail: Vec<u8>,
    tail_ids: HashMap<Vec<u8>, String>,
}

fn hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Real objects from the simulator: one Logpush object's text (its good
/// lines) and a tail capture (its events).
fn base(dir: &Path) -> Base {
    let sim = common::simulate(dir, 11, &["--runs", "2"]);
    let mut logpush = Vec::new();
    let mut objects: Vec<_> = walk(&sim.join("logpush"));
    objects.sort();
    for path in objects
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".gz"))
        .take(6)
    {
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap())
            .read_to_end(&mut text)
            .unwrap();
        logpush.extend(text);
        if !logpush.ends_with(b"\n") {
            logpush.push(b'\n');
        }
    }
    let logpush_ids = logpush
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| {
            std::str::from_utf8(l).is_ok_and(|t| {
                matches!(tracecost::mirror::parse::logpush::parse_line(t), Ok(tracecost::mirror::parse::logpush::Line::Event(row)) if row.check().is_ok())
            })
        })
        .map(|l| (l.to_vec(), hex(xxhash_rust::xxh3::xxh3_64(l))))
        .collect::<HashMap<_, _>>();
    assert!(logpush_ids.len() > 50, "{}", logpush_ids.len());
    let tail = fs::read(sim.join("tail/capture.json")).unwrap();
    let mut tail_ids = HashMap::new();
    for block in intact_blocks_raw(&tail) {
        let value: serde_json::Value = serde_json::from_slice(&block).unwrap();
        tail_ids.insert(
            block,
            hex(xxhash_rust::xxh3::xxh3_64(value.to_string().as_bytes())),
        );
    }
    assert!(tail_ids.len() > 50, "{}", tail_ids.len());
    Base {
        logpush,
        logpush_ids,
        tail,
        tail_ids,
    }
}

fn intact_blocks_raw(text: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(text).unwrap();
    text.split_inclusive('\n')
        .fold(
            (Vec::new(), String::new()),
            |(mut blocks, mut cur), line| {
                cur.push_str(line);
                if line.starts_with('}') {
                    blocks.push(cur.trim_end().as_bytes().to_vec());
                    cur.clear();
                }
                (blocks, cur)
            },
        )
        .0
}

/// Mirrors `object` (named `key`) into a fresh lake and checks the promises.
fn check(
    dir: &Path,
    key: &str,
    object: &[u8],
    expected: Option<&Expected>,
) -> Result<(), TestCaseError> {
    let case = tempfile::tempdir_in(dir).unwrap();
    let src = case.path().join("src");
    let path = src.join(key);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, object).unwrap();
    let pipeline = case.path().join("p.toml");
    fs::write(&pipeline, "name = \"fuzz\"\n").unwrap();
    let lake = case.path().join("lake");
    let args = StepArgs {
        pipeline: Some(pipeline),
        source: Some(src.to_string_lossy().into_owned()),
        lake: Some(lake.clone()),
        quiet: true,
        ..StepArgs::default()
    };
    let settings = Settings::resolve(&args).unwrap();
    let source = tracecost::mirror::open_source(
        settings.mirror.source.as_ref().unwrap(),
        &settings.mirror.s3,
        &[&lake],
    )
    .unwrap();
    let summary = tracecost::mirror::mirror(source.as_ref(), &settings.mirror)
        .map_err(|e| TestCaseError::fail(format!("mirror failed: {e:#}")))?;
    prop_assert_eq!(summary.failed, 0);

    let manifest = Manifest::load(&lake).unwrap();
    let entry = &manifest.objects[key];
    let (ids, objects) = lake_ids(&lake);
    prop_assert!(objects.iter().all(|o| o == key));
    if entry.status == Status::Quarantined {
        prop_assert_eq!(ids.len(), 0);
        let copy = lake.join("_quarantine").join(&entry.quarantine[0]);
        prop_assert_eq!(fs::read(copy).unwrap(), object.to_vec());
        let intact = expected.map_or(0, |e| e.values().map(|(min, _)| min).sum::<usize>());
        prop_assert_eq!(
            intact,
            0,
            "an object with intact good lines was quarantined whole"
        );
        return Ok(());
    }
    // Accounting: every delivered line is a row, a quarantined line or a counted skip.
    prop_assert_eq!(
        entry.lines,
        entry.rows + entry.rejected_lines + entry.test_lines + entry.sampling_notices
    );
    prop_assert_eq!(entry.rows as usize, ids.len());
    let records = quarantine_records(&lake);
    prop_assert_eq!(records, entry.rejected_lines);
    if let Some(expected) = expected {
        let mut got = HashMap::<&str, usize>::new();
        for id in &ids {
            *got.entry(id).or_default() += 1;
        }
        for (id, (min, max)) in expected {
            let n = got.get(id.as_str()).copied().unwrap_or(0);
            prop_assert!(n >= *min && n <= *max, "event {} in the lake {} times, delivered intact {} times, its bytes appear {} times", id, n, min, max);
        }
    }
    Ok(())
}

fn lake_ids(lake: &Path) -> (Vec<String>, Vec<String>) {
    let Some(lf) = tracecost::lake::scan_lake(lake, &Default::default()).unwrap() else {
        return (Vec::new(), Vec::new());
    };
    let df = lf.collect().unwrap();
    let col = |name| {
        common::str_col(&df, name)
            .into_iter()
            .map(|s| s.unwrap().to_string())
            .collect()
    };
    (col("event_id"), col("source_object"))
}

fn quarantine_records(lake: &Path) -> u64 {
    let Ok(files) = fs::read_dir(lake.join("_quarantine/lines")) else {
        return 0;
    };
    files
        .map(|f| {
            fs::read_to_string(f.unwrap().path())
                .unwrap()
                .lines()
                .count() as u64
        })
        .sum()
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn mutated_logpush_objects_keep_every_intact_line_and_account_for_every_other() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base(tmp.path());
    let strategy = (proptest::collection::vec(edit(), 0..6), wrap());
    runner()
        .run(&strategy, |(edits, wrap)| {
            let mut text = base.logpush.clone();
            for e in &edits {
                apply(&mut text, e);
            }
            let (object, damaged) = compress(&text, &wrap);
            let expected = (!damaged).then(|| intact_lines(&text, &base.logpush_ids));
            check(tmp.path(), "20251118/x.log.gz", &object, expected.as_ref())
        })
        .unwrap();
}

#[test]
fn mutated_tail_captures_keep_every_intact_event_and_account_for_every_other() {
    let tmp = tempfile::tempdir().unwrap();
    let base = base(tmp.path());
    let strategy = proptest::collection::vec(edit(), 0..6);
    runner()
        .run(&strategy, |edits| {
            let mut text = base.tail.clone();
            for e in &edits {
                apply(&mut text, e);
            }
            let expected = intact_blocks(&text, &base.tail_ids);
            check(tmp.path(), "capture.json", &text, Some(&expected))
        })
        .unwrap();
}
