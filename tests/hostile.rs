//! Issue 14: hostile input never stops a run or loses a good line, and
//! nothing escapes its folder. Each test is named after the promise it
//! checks and runs the real binary.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

const GOOD: &str = r#"{"EventTimestampMs":1763510000000,"ScriptName":"s","WallTimeMs":5,"CPUTimeMs":1,"EventType":"fetch"}"#;

/// `n` distinct good Logpush lines, one millisecond apart.
fn good_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| GOOD.replace("1763510000000", &(1763510000000 + i as i64).to_string()))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn mirror_status(
    dir: &Path,
    source: &Path,
    lake: &Path,
    extra: &[&str],
    ok: bool,
) -> std::process::Output {
    let mut args = mirror_args(&empty_pipeline(dir), source.to_str().unwrap(), lake);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, ok)
}

/// Every record of the quarantine's files of bad lines.
fn quarantined_lines(quarantine: &Path) -> Vec<serde_json::Value> {
    let Ok(files) = fs::read_dir(quarantine.join("lines")) else {
        return Vec::new();
    };
    files
        .flat_map(|f| {
            let text = fs::read_to_string(f.unwrap().path()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn lake_rows(lake: &Path) -> usize {
    tracecost::lake::scan_lake(lake, &Default::default())
        .unwrap()
        .map_or(0, |lf| lf.collect().unwrap().height())
}

#[test]
fn an_event_time_out_of_range_is_quarantined_and_never_crashes_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut lines = good_lines(3);
    lines.push(r#"{"EventTimestampMs":10000000000000000,"ScriptName":"x"}"#.into());
    lines.push(r#"{"EventTimestampMs":8.2e15,"ScriptName":"x"}"#.into());
    lines.push(r#"{"EventTimestampMs":-5,"ScriptName":"x"}"#.into());
    write(
        &src.join("20251119/a.log.gz"),
        &gzip(lines.join("\n").as_bytes()),
    );
    let capture = "{\n  \"eventTimestamp\": 10000000000000000,\n  \"scriptName\": \"x\"\n}\n{\n  \"eventTimestamp\": 1763510000000,\n  \"scriptName\": \"x\"\n}\n";
    write(&src.join("capture.json"), capture.as_bytes());
    let lake = tmp.path().join("lake");
    for _ in 0..2 {
        let out = mirror_status(tmp.path(), &src, &lake, &[], true);
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    }
    assert_eq!(lake_rows(&lake), 4);
    let bad = quarantined_lines(&lake.join("_quarantine"));
    assert_eq!(bad.len(), 4, "{bad:?}");
    assert!(bad.iter().all(|r| r["error"]
        .as_str()
        .unwrap()
        .contains("outside 2010-01-01 to 2100-01-01 UTC")));
    // Every partition is a four-digit-year date, which readers type as a date.
    for entry in fs::read_dir(&lake).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(day) = name.strip_prefix("date=") {
            assert!(
                chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok(),
                "{name}"
            );
            assert_eq!(day.len(), 10, "{name}");
        }
    }
}

#[test]
fn a_leg_beyond_any_workers_limit_is_quarantined_not_summed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let huge = GOOD.replace("\"WallTimeMs\":5", &format!("\"WallTimeMs\":{}", i64::MAX));
    let negative = GOOD.replace("\"CPUTimeMs\":1", "\"CPUTimeMs\":-1");
    write(
        &src.join("20251119/a.log.gz"),
        &gzip(format!("{GOOD}\n{huge}\n{negative}\n").as_bytes()),
    );
    let lake = tmp.path().join("lake");
    mirror_status(tmp.path(), &src, &lake, &[], true);
    assert_eq!(lake_rows(&lake), 1);
    let bad = quarantined_lines(&lake.join("_quarantine"));
    let errors: Vec<&str> = bad.iter().map(|r| r["error"].as_str().unwrap()).collect();
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].starts_with("WallTimeMs 9223372036854775807 is outside 0 to 2592000000 ms"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("CPUTimeMs -1 is outside"),
        "{errors:?}"
    );
}

/// The simulator's tail capture and how many rows it gives when clean.
fn clean_capture(dir: &Path) -> (String, usize) {
    let sim = simulate(dir, 5, &["--runs", "2"]);
    let capture = fs::read_to_string(sim.join("tail/capture.json")).unwrap();
    let lake = dir.join("clean-lake");
    let path = dir.join("clean.json");
    fs::write(&path, &capture).unwrap();
    mirror_status(dir, &path, &lake, &[], true);
    let rows = lake_rows(&lake);
    assert!(rows > 50, "{rows}");
    (capture, rows)
}

#[test]
fn the_tail_reader_keeps_every_good_event_after_junk() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, rows) = clean_capture(tmp.path());
    let deep = format!("{}{}\n", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}\n", "{\"a\":".repeat(300), "}".repeat(300));
    let (head, rest) = capture.split_at(capture.find("\n{\n").unwrap() + 1);
    let mid_object = &capture[capture.find("  \"eventTimestamp\"").unwrap()..];
    let cases: Vec<(&str, String, usize)> = vec![
        ("a stray line first", format!("hello\n{capture}"), rows),
        ("a wrangler banner", format!(" ⛅️ wrangler 4.50.0\n-------------------\nSuccessfully created tail, expires at 2025-11-19T00:00:00Z\nConnected to proxy-lab, waiting for logs...\n{capture}"), rows),
        ("a half object", format!("{{\n  \"eventTimestamp\": 1763510000000,\n  \"logs\": [\n{capture}"), rows),
        ("an unclosed string", format!("{{\n  \"scriptName\": \"proxy-lab,\n}}\n{capture}"), rows),
        ("a deeply nested line", format!("{deep}{capture}"), rows),
        ("an object nested too deep", format!("{deep_object}{capture}"), rows),
        ("a UTF-8 byte order mark", format!("\u{feff}{capture}"), rows),
        ("a capture starting mid-object", mid_object.to_string(), rows - 1),
        ("objects with no separator", capture.replace("}\n{\n", "}{\n"), rows),
        ("junk between two events", format!("{head}garbage }} {{ here\n{rest}"), rows),
    ];
    for (what, text, want) in cases {
        let dir = tmp.path().join(what.replace(' ', "-"));
        let path = dir.join("t.json");
        write(&path, text.as_bytes());
        let lake = dir.join("lake");
        let out = mirror_status(&dir, &path, &lake, &[], true);
        assert_eq!(lake_rows(&lake), want, "{what}: {}", stdout(&out));
        let bad = quarantined_lines(&lake.join("_quarantine"));
        if what != "a UTF-8 byte order mark" && what != "objects with no separator" {
            assert!(!bad.is_empty(), "{what}: the junk is quarantined");
        }
        // Only junk: no quarantined record holds a whole event of the capture.
        for record in &bad {
            let text = record["text"].as_str().unwrap_or_default();
            assert!(
                text.matches("\"eventTimestamp\"").count() <= 1,
                "{what}: {text}"
            );
        }
    }
}

/// A gzip object of `members`: gzip members may follow one another, so a
/// gigabyte of NUL bytes is a megabyte of one compressed mebibyte repeated.
fn gzip_members(members: &[(&[u8], usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (text, times) in members {
        let one = gzip(text);
        for _ in 0..*times {
            out.extend_from_slice(&one);
        }
    }
    out
}

/// One mirror on one thread, whose peak RSS must stay under 300 MB.
fn mirror_in_bounded_memory(dir: &Path, source: &Path, lake: &Path) -> std::process::Output {
    let before = children_peak_rss_kb();
    let out = mirror_status(dir, source, lake, &["--jobs", "1"], true);
    let peak_mb = children_peak_rss_kb().max(before) / 1024;
    assert!(peak_mb < 300, "peak RSS {peak_mb} MB");
    out
}

/// Largest resident set of any child process so far (kB).
fn children_peak_rss_kb() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init().ru_maxrss
    }
}

#[test]
fn an_over_long_line_is_quarantined_by_reference_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let zeros = vec![0u8; 1 << 20];
    let lines = good_lines(2);
    let object = gzip_members(&[
        (format!("{}\n", lines[0]).as_bytes(), 1),
        (&zeros, 1024),
        (format!("\n{}\n", lines[1]).as_bytes(), 1),
    ]);
    assert!(object.len() < 2 << 20, "{}", object.len());
    write(&src.join("20251119/a.log.gz"), &object);
    let lake = tmp.path().join("lake");
    mirror_in_bounded_memory(tmp.path(), &src, &lake);
    assert_eq!(lake_rows(&lake), 2);
    let bad = quarantined_lines(&lake.join("_quarantine"));
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["line"], 2);
    assert_eq!(bad[0]["length"], 1u64 << 30);
    assert_eq!(bad[0]["head"].as_str().unwrap().len(), 256);
    assert!(bad[0]["error"]
        .as_str()
        .unwrap()
        .contains("longer than the limit of 16777216 bytes"));
    let quarantine_bytes: u64 = common::tree(&lake.join("_quarantine"))
        .iter()
        .map(|(_, b)| b.len() as u64)
        .sum();
    assert!(quarantine_bytes < 4096, "{quarantine_bytes}");
}

#[test]
fn one_object_puts_at_most_its_cap_in_the_quarantine_and_counts_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let lines = good_lines(2);
    let object = gzip_members(&[
        (format!("{}\n", lines[0]).as_bytes(), 1),
        ("{}\n".repeat(100_000).as_bytes(), 10),
        (format!("{}\n", lines[1]).as_bytes(), 1),
    ]);
    write(&src.join("20251119/a.log.gz"), &object);
    let pipeline = tmp.path().join("capped.toml");
    fs::write(
        &pipeline,
        "name = \"t\"\n[mirror]\nmax_quarantine_bytes = 65536\n",
    )
    .unwrap();
    let lake = tmp.path().join("lake");
    let mut args = mirror_args(&pipeline, src.to_str().unwrap(), &lake);
    args.push("--quiet".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args, true);
    assert!(
        stdout(&out).contains("rejected lines 1,000,000"),
        "{}",
        stdout(&out)
    );
    assert_eq!(lake_rows(&lake), 2);
    let file = fs::read_dir(lake.join("_quarantine/lines"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let size = fs::metadata(&file).unwrap().len();
    assert!(size < 65536 + 1024, "{size}");
    let bad = quarantined_lines(&lake.join("_quarantine"));
    let last = bad.last().unwrap();
    assert_eq!(
        last["count"].as_u64().unwrap() + bad.len() as u64 - 1,
        1_000_000
    );
    assert!(last["error"]
        .as_str()
        .unwrap()
        .contains("counted, not copied"));
    // A bad configuration is one line naming the field.
    fs::write(&pipeline, "name = \"t\"\n[mirror]\nmax_line_bytes = 10\n").unwrap();
    let out = run(&args, false);
    let err = stderr(&out);
    assert!(
        err.contains("max_line_bytes") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn lines_after_a_gzip_object_ends_in_padding_or_junk_are_all_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let text = good_lines(10).join("\n");
    let one = gzip(text.as_bytes());
    write(
        &src.join("padded.log.gz"),
        &[one.clone(), vec![0; 4096]].concat(),
    );
    write(
        &src.join("junk.log.gz"),
        &[one.clone(), b"trailing junk".to_vec()].concat(),
    );
    let mut two = gzip(good_lines(13)[10..].join("\n").as_bytes());
    let mid = two.len() / 2;
    two[mid..mid + 6].fill(0xff);
    write(
        &src.join("second-member-corrupt.log.gz"),
        &[gzip(format!("{text}\n").as_bytes()), two].concat(),
    );
    let lake = tmp.path().join("lake");
    let out = mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], true);
    let df = read_lake(&lake);
    for key in ["padded", "junk", "second-member-corrupt"] {
        let rows = str_col(&df, "source_object")
            .iter()
            .filter(|o| o.unwrap().contains(key))
            .count();
        assert_eq!(rows, 10, "{key}: {}", stdout(&out));
    }
    let objects = lake.join("_quarantine/objects");
    let stem = |k: &str| tracecost::lake::object_stem(&format!("20251119/{k}.log.gz"));
    assert_eq!(
        fs::read(objects.join(format!("{}.tail", stem("padded")))).unwrap(),
        vec![0; 4096]
    );
    assert_eq!(
        fs::read(objects.join(format!("{}.tail", stem("junk")))).unwrap(),
        b"trailing junk"
    );
    let why = read_json(&objects.join(format!("{}.tail.reason.json", stem("padded"))));
    assert!(
        why["reason"]
            .as_str()
            .unwrap()
            .contains("4096 zero bytes (padding)"),
        "{why}"
    );
    assert_eq!(why["offset"], one.len());
}

#[cfg(unix)]
#[test]
fn unreadable_entries_are_skipped_and_listed_and_everything_else_read() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{symlink, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let day = src.join("20251119");
    write(
        &day.join("good.log.gz"),
        &gzip(good_lines(5).join("\n").as_bytes()),
    );
    let secret = tmp.path().join("secret.txt");
    fs::write(&secret, "root:x:0:0\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    symlink(&secret, day.join("passwd.log.gz")).unwrap();
    symlink(tmp.path().join("missing"), day.join("dangling.log.gz")).unwrap();
    symlink(&day, src.join("20251120")).unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.log.gz");
    fs::write(day.join(odd), gzip(good_lines(1)[0].as_bytes())).unwrap();
    fs::write(day.join("..gz"), gzip(good_lines(1)[0].as_bytes())).unwrap();
    let fifo = day.join("pipe.log.gz");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let lake = tmp.path().join("lake");
    for run in 0..2 {
        let out = mirror_status(tmp.path(), &src, &lake, &[], true);
        let text = stdout(&out);
        assert!(text.contains("skipped 6 ("), "run {run}: {text}");
        assert_eq!(lake_rows(&lake), 5);
    }
    let listed = fs::read_to_string(lake.join("_quarantine/skipped.jsonl")).unwrap();
    for (key, why) in [
        ("20251119/passwd.log.gz", "symbolic link"),
        ("20251119/dangling.log.gz", "symbolic link"),
        ("20251120", "symbolic link"),
        ("20251119/caf\u{fffd}.log.gz", "not UTF-8"),
        ("20251119/pipe.log.gz", "not a regular file"),
        ("20251119/..gz", "hidden name"),
    ] {
        let line = listed
            .lines()
            .find(|l| l.contains(&format!("\"key\":\"{key}\"")));
        assert!(line.is_some_and(|l| l.contains(why)), "{key}: {listed}");
    }
    // Nothing of the file behind the link was copied anywhere.
    for (path, bytes) in common::tree(&lake) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("root:x:0:0"),
            "{path}"
        );
    }
}

#[test]
fn the_lake_inside_its_source_is_never_read_as_input() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(
        &src.join("20251119/a.log.gz"),
        &gzip(good_lines(4).join("\n").as_bytes()),
    );
    let lake = src.join("lake");
    mirror_status(tmp.path(), &src, &lake, &[], true);
    let out = mirror_status(tmp.path(), &src, &lake, &[], true);
    assert!(
        stdout(&out).contains("1 objects listed, 0 read"),
        "{}",
        stdout(&out)
    );
    assert_eq!(lake_rows(&lake), 4);
}

#[test]
fn quarantined_bytes_are_kept_exactly_and_never_reach_the_terminal_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let latin1 = b"{\"ScriptName\":\"caf\xe9\"}".to_vec();
    let escape = b"\x1b[31mred\x1b]0;title\x07".to_vec();
    let text = [GOOD.as_bytes(), b"\n", &latin1, b"\n", &escape, b"\n"].concat();
    write(&src.join("a.log.gz"), &gzip(&text));
    let capture = [
        b"{\"eventTimestamp\": 1763510000000, \"scriptName\": \"".as_slice(),
        b"\xff\xfe",
        b"\"}\n{\"eventTimestamp\": 1763510000001}\n",
    ]
    .concat();
    write(&src.join("capture.json"), &capture);
    let lake = tmp.path().join("lake");
    let out = mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], true);
    assert_eq!(lake_rows(&lake), 2);
    assert!(!out.stderr.contains(&0x1b) && !out.stdout.contains(&0x1b));
    assert!(stderr(&out).contains("found `\\u{1b}`"), "{}", stderr(&out));
    let bad = quarantined_lines(&lake.join("_quarantine"));
    use base64::Engine;
    let decoded: Vec<Vec<u8>> = bad
        .iter()
        .filter_map(|r| r["text_base64"].as_str())
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b).unwrap())
        .collect();
    assert!(decoded.contains(&latin1), "{bad:?}");
    assert!(
        decoded.iter().any(|d| d.ends_with(b"\xff\xfe\"}")),
        "{bad:?}"
    );
    let texts: Vec<&str> = bad.iter().filter_map(|r| r["text"].as_str()).collect();
    assert!(
        texts.contains(&std::str::from_utf8(&escape).unwrap()),
        "{bad:?}"
    );
}

#[test]
fn a_sampling_tail_is_counted_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = "{\n  \"message\": \"Tail is currently in sampling mode\",\n  \"type\": \"overload\"\n}\n{\n  \"eventTimestamp\": 1763510000000,\n  \"scriptName\": \"x\"\n}\n";
    let path = tmp.path().join("t.json");
    fs::write(&path, capture).unwrap();
    let lake = tmp.path().join("lake");
    let out = mirror_status(tmp.path(), &path, &lake, &[], true);
    assert!(
        stdout(&out).contains("wrangler tail was sampling 1 time(s)"),
        "{}",
        stdout(&out)
    );
    let manifest = read_json(&lake.join("_manifest.json"));
    assert_eq!(manifest["objects"]["t.json"]["sampling_notices"], 1);
    assert_eq!(lake_rows(&lake), 1);
}

fn take_lock(lake: &Path) -> fs::File {
    fs::create_dir_all(lake).unwrap();
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lake.join(".lock"))
        .unwrap();
    file.lock().unwrap();
    file
}

#[test]
fn readers_see_only_what_the_manifest_owns_and_never_a_lake_being_written() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 6, &["--runs", "2"]);
    let lake = tmp.path().join("lake");
    let pipeline = shipped_pipeline(tmp.path(), "proxy-fetch.toml");
    let flags = archive_flags(&sim, &lake, &sim.join("run-manifest.csv"));
    step("mirror", &pipeline, &flags, true);
    step("transform", &pipeline, &flags, true);
    let requests = |lake: &Path| read_parquet(&lake.join("_derived/proxy-fetch/requests.parquet"));
    let before = requests(&lake);
    // What a killed run leaves: a file no manifest entry names and temporaries.
    let owned = fs::read_dir(lake.join("date=2025-11-18"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::copy(
        &owned,
        lake.join("date=2025-11-18/segment-00000000deadbeef.parquet"),
    )
    .unwrap();
    let tmp_file = tracecost::io::atomic::tmp_path(&owned);
    fs::copy(&owned, &tmp_file).unwrap();
    assert!(!tmp_file.to_string_lossy().ends_with(".parquet"));
    step("transform", &pipeline, &flags, true);
    assert!(requests(&lake).equals_missing(&before));
    // A mirror at work excludes readers, with one line that says what to do.
    let lock = take_lock(&lake);
    let out = step("transform", &pipeline, &flags, false);
    let err = stderr(&out);
    assert!(
        err.contains("being written by a running `tracecost mirror`") && err.lines().count() == 1,
        "{err}"
    );
    drop(lock);
    // The next mirror sweeps what no entry owns.
    step("mirror", &pipeline, &flags, true);
    assert!(!lake
        .join("date=2025-11-18/segment-00000000deadbeef.parquet")
        .exists());
    assert!(!tmp_file.exists());
}

/// Mounts a tmpfs of `mb` megabytes at `dir` (root only).
fn mount_tmpfs(dir: &Path, mb: u32) -> bool {
    fs::create_dir_all(dir).unwrap();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[ignore = "needs root to mount a small tmpfs; .ci/run runs it"]
fn a_full_disk_stops_the_mirror_with_one_line_and_the_rerun_completes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = simulate(tmp.path(), 8, &["--runs", "30", "--scale", "10"]);
    let disk = tmp.path().join("disk");
    assert!(mount_tmpfs(&disk, 1), "mount -t tmpfs needs root");
    let _unmount = Unmount(disk.clone());
    let lake = disk.join("lake");
    let out = mirror_status(tmp.path(), &sim.join("logpush"), &lake, &[], false);
    let err = stderr(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains(&format!("disk full writing {}", lake.display())),
        "{err}"
    );
    assert!(err.lines().count() < 25, "{err}");
    let remount = std::process::Command::new("mount")
        .args(["-o", "remount,size=200m"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(remount.success());
    mirror_status(tmp.path(), &sim.join("logpush"), &lake, &[], true);
    let clean = tmp.path().join("clean");
    mirror_status(tmp.path(), &sim.join("logpush"), &clean, &[], true);
    assert_eq!(common::tree(&lake), common::tree(&clean));
}

#[test]
fn a_hostile_manifest_cannot_steer_a_removal_outside_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    write(
        &src.join("a.log.gz"),
        &gzip(good_lines(3).join("\n").as_bytes()),
    );
    let lake = tmp.path().join("lake");
    mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], true);
    let victim = tmp.path().join("victim.txt");
    fs::write(&victim, "keep me").unwrap();
    let path = lake.join("_manifest.json");
    let mut manifest = read_json(&path);
    let files = manifest["objects"]["20251119/a.log.gz"]["files"]
        .as_array_mut()
        .unwrap();
    files.push("date=2025-11-19/../../victim.txt".into());
    fs::write(&path, manifest.to_string()).unwrap();
    // The object changes, so its old files would be removed.
    write(
        &src.join("a.log.gz"),
        &gzip(good_lines(4).join("\n").as_bytes()),
    );
    let out = mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], false);
    let err = stderr(&out);
    assert!(
        err.contains("names a file outside its folder") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
}

#[test]
fn a_lake_in_a_folder_of_other_files_leaves_them_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    write(
        &src.join("a.log.gz"),
        &gzip(good_lines(3).join("\n").as_bytes()),
    );
    let lake = tmp.path().join("home");
    let others = [
        "notes/.draft.tmp-1",
        "keep.txt",
        ".hidden.tmp-1-1",
        "sub/date=2020-01-01/a.parquet",
        "date=2024-01-01/notes.txt",
        "date=2025-11-19/a.log.gz",
        "_quarantine/mine.txt",
        "_quarantine/lines/mine.jsonl",
        "_quarantine/objects/mine.object",
    ];
    for other in others {
        write(&lake.join(other), b"mine");
    }
    mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], true);
    for other in others {
        assert!(lake.join(other).exists(), "{other} was removed");
    }
    assert_eq!(lake_rows(&lake), 3);
}

#[test]
fn a_lake_that_holds_its_source_is_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(
        &src.join("date=2025-11-19/a.log.gz"),
        &gzip(good_lines(3).join("\n").as_bytes()),
    );
    for lake in [src.clone(), tmp.path().to_path_buf()] {
        let out = mirror_status(tmp.path(), &src, &lake, &[], false);
        let err = stderr(&out);
        assert!(
            err.contains("is inside") && err.lines().count() == 1,
            "{err}"
        );
        assert!(src.join("date=2025-11-19/a.log.gz").exists());
    }
}

#[test]
fn an_object_spanning_thousands_of_days_is_cut_at_a_year() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let day_line = |day: i64| {
        GOOD.replace(
            "1763510000000",
            &(1_300_000_000_000 + day * 86_400_000).to_string(),
        )
    };
    let lines: Vec<String> = (0..3000).map(day_line).collect();
    write(&src.join("a.log.gz"), &gzip(lines.join("\n").as_bytes()));
    let lake = tmp.path().join("lake");
    let out = mirror_status(
        tmp.path(),
        &tmp.path().join("src"),
        &lake,
        &["--jobs", "1"],
        true,
    );
    assert!(
        stdout(&out).contains("lines 3,000 -> rows 366"),
        "{}",
        stdout(&out)
    );
    let bad = quarantined_lines(&lake.join("_quarantine"));
    assert_eq!(bad.len(), 3000 - 366);
    assert!(bad[0]["error"]
        .as_str()
        .unwrap()
        .contains("span more than 366 days"));
}

#[test]
fn objects_spanning_many_days_together_are_split_into_parts_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let day_line = |day: i64| {
        GOOD.replace(
            "1763510000000",
            &(1_300_000_000_000 + day * 86_400_000).to_string(),
        )
    };
    for object in 0..12i64 {
        let lines: Vec<String> = (0..300).map(|d| day_line(object * 300 + d)).collect();
        write(
            &src.join(format!("o{object:02}.log.gz")),
            &gzip(lines.join("\n").as_bytes()),
        );
    }
    let lake = tmp.path().join("lake");
    let out = mirror_in_bounded_memory(tmp.path(), &tmp.path().join("src"), &lake);
    assert!(
        stdout(&out).contains("lines 3,600 -> rows 3,600"),
        "{}",
        stdout(&out)
    );
    // Each object became a part of its own segment file.
    let names: std::collections::BTreeSet<String> = common::tree(&lake)
        .into_iter()
        .filter(|(path, _)| path.starts_with("date="))
        .map(|(path, _)| path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 12, "{names:?}");
    let rerun = mirror_status(tmp.path(), &tmp.path().join("src"), &lake, &[], true);
    assert!(
        stdout(&rerun).contains("12 unchanged"),
        "{}",
        stdout(&rerun)
    );
    assert_eq!(lake_rows(&lake), 3600);
}

#[test]
fn lines_under_the_cap_are_flushed_by_size_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let big = GOOD.replace(
        "\"EventType\":\"fetch\"",
        &format!(
            "\"EventType\":\"fetch\",\"Logs\":[{{\"Level\":\"log\",\"Message\":[\"{}\"]}}]",
            "x".repeat(12 << 20)
        ),
    );
    let object = gzip(big.as_bytes());
    for i in 0..24 {
        write(&src.join(format!("o{i:02}.log.gz")), &object);
    }
    let lake = tmp.path().join("lake");
    let out = mirror_in_bounded_memory(tmp.path(), &tmp.path().join("src"), &lake);
    assert!(
        stdout(&out).contains("lines 24 -> rows 24"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_bad_line_that_json_would_swell_past_the_cap_is_kept_by_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let control = vec![1u8; (16 << 20) - 1];
    let text = [GOOD.as_bytes(), b"\n", &control, b"\n", GOOD.as_bytes()].concat();
    write(&src.join("a.log.gz"), &gzip(&text));
    let lake = tmp.path().join("lake");
    mirror_in_bounded_memory(tmp.path(), &tmp.path().join("src"), &lake);
    let bad = quarantined_lines(&lake.join("_quarantine"));
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["length"], (16u64 << 20) - 1);
    assert_eq!(bad[0]["head"].as_str().unwrap().len(), 256);
    let size: u64 = common::tree(&lake.join("_quarantine"))
        .iter()
        .map(|(_, b)| b.len() as u64)
        .sum();
    assert!(size < 4096, "{size}");
}

/// A first line of millions of JSON values (under the line cap, ~30 KB of
/// gzip): format detection reads a buffer's worth, never the whole inflated
/// line into a JSON tree (~0.6 GB).
#[test]
fn a_first_line_of_millions_of_values_is_detected_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    let zeros = "0,".repeat(7 << 20);
    let first = format!("{{\"a\":[{zeros}0]}}");
    let text = [first.as_bytes(), b"\n", GOOD.as_bytes(), b"\n"].concat();
    write(&src.join("a.log.gz"), &gzip(&text));
    let lake = tmp.path().join("lake");
    mirror_in_bounded_memory(tmp.path(), &tmp.path().join("src"), &lake);
    assert_eq!(lake_rows(&lake), 1);
}

#[test]
fn a_misleading_first_line_does_not_decide_the_format_of_the_whole_object() {
    let tmp = tempfile::tempdir().unwrap();
    let (capture, rows) = clean_capture(tmp.path());
    let good = good_lines(10).join("\n");
    let banner = "wrangler banner line\n".repeat(40);
    let blank = "\n".repeat(70_000);
    let cases: Vec<(&str, String, usize)> = vec![
        ("logpush after a lone {", format!("{{\n{good}\n"), 10),
        (
            "logpush after a tail key line",
            format!("\"wallTime\": 5,\n{good}\n"),
            10,
        ),
        (
            "a capture after a compact line",
            format!("{{\"a\":1}}\n{capture}"),
            rows,
        ),
        (
            "a capture after 40 banner lines",
            format!("{banner}{capture}"),
            rows,
        ),
        (
            "a capture after 70 KB of blank lines",
            format!("{blank}{capture}"),
            rows,
        ),
    ];
    for (what, text, want) in cases {
        let dir = tmp.path().join(what.replace(' ', "-"));
        let path = dir.join("src/20251119/x.log.gz");
        write(&path, &gzip(text.as_bytes()));
        let lake = dir.join("lake");
        let out = mirror_status(&dir, &dir.join("src"), &lake, &[], true);
        assert_eq!(lake_rows(&lake), want, "{what}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("quarantined objects 0"),
            "{what}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn a_tail_event_that_is_no_event_is_quarantined_as_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let odd = "{\n  \"zeta\": 1,\n  \"eventTimestamp\": \"yesterday\",\n  \"alpha\": [1,   2]\n}";
    let capture = format!(
        "{odd}\n{{\n  \"eventTimestamp\": 1763510000000,\n  \"logs\": \"not an array\"\n}}\n"
    );
    let path = tmp.path().join("t.json");
    fs::write(&path, &capture).unwrap();
    let lake = tmp.path().join("lake");
    mirror_status(tmp.path(), &path, &lake, &[], true);
    let bad = quarantined_lines(&lake.join("_quarantine"));
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["text"], odd);
    let df = read_lake(&lake);
    assert_eq!(str_col(&df, "Logs"), [Some("\"not an array\"")]);
}

#[test]
fn a_changed_object_is_said_to_replace_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let capture = |n: usize| {
        (0..n)
            .map(|i| format!("{{\"eventTimestamp\": {}}}\n", 1763510000000 + i))
            .collect::<String>()
    };
    let path = tmp.path().join("a/capture.json");
    write(&path, capture(3).as_bytes());
    let lake = tmp.path().join("lake");
    mirror_status(tmp.path(), &path, &lake, &[], true);
    let other = tmp.path().join("b/capture.json");
    write(&other, capture(5).as_bytes());
    let out = mirror_status(tmp.path(), &other, &lake, &[], true);
    assert!(stdout(&out).contains("replaced 1 ("), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("replaced: capture.json changed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(lake_rows(&lake), 5);
}
