//! Issue 5: the mirror from an S3-compatible server over real HTTP on 127.0.0.1.

mod common;
#[path = "common/s3server.rs"]
mod s3server;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use s3server::{Server, ACCESS_KEY, BUCKET, SECRET_KEY};

/// A pipeline with quick retries, so that fault tests stay short.
fn pipeline(dir: &Path) -> PathBuf {
    let p = dir.join("s3.toml");
    std::fs::write(
        &p,
        "name = \"s3\"\n[source.s3]\nmax_attempts = 12\nretry_base_ms = 5\nconcurrency = 4\n",
    )
    .unwrap();
    p
}

const CREDENTIALS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
    ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
];

fn mirror_s3(
    dir: &Path,
    server: &Server,
    lake: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let p = pipeline(dir);
    let source = format!("s3://{BUCKET}/workers");
    let mut args = vec![
        "mirror",
        "--pipeline",
        p.to_str().unwrap(),
        "--source",
        &source,
        "--endpoint",
        &server.endpoint,
        "--lake",
        lake.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_env(&args, env)
}

/// The lake's data files and quarantine, without the manifest (whose versions
/// are ETags from S3 and mtimes from disk).
fn data_files(lake: &Path) -> Vec<(String, Vec<u8>)> {
    tree(lake)
        .into_iter()
        .filter(|(name, _)| !name.ends_with("_manifest.json"))
        .collect()
}

fn archive(tmp: &Path, seed: u64, scale: &str) -> (PathBuf, PathBuf) {
    let sim = simulate(tmp, seed, &["--scale", scale]);
    let disk_lake = tmp.join("from-disk");
    mirror(tmp, &sim.join("logpush"), &disk_lake, &[]);
    (sim, disk_lake)
}

#[test]
fn the_bucket_gives_the_same_lake_as_the_disk_and_a_rerun_downloads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, disk_lake) = archive(tmp.path(), 3, "1");
    let server = Server::start(&tmp.path().join("s3"));
    server.upload(&sim.join("logpush"), "workers");
    let lake = tmp.path().join("from-s3");
    let out = ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert_eq!(data_files(&lake), data_files(&disk_lake));
    let objects = read_json(&sim.join("truth/archive.json"))["objects"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(server.gets(), objects, "one GET per object");
    assert!(!stdout(&out).contains(SECRET_KEY) && !stderr(&out).contains(SECRET_KEY));

    let before = server.gets();
    let again = ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert_eq!(server.gets(), before, "the second run made a GET");
    assert!(stdout(&again).contains(" 0 read"), "{}", stdout(&again));

    // A replaced object is read again and replaces exactly its own rows.
    let manifest = read_json(&lake.join("_manifest.json"));
    let (key, entry) = manifest["objects"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, e)| e["rows"].as_u64().unwrap() > 5)
        .unwrap();
    let path = server.root.join(BUCKET).join("workers").join(key);
    let body = std::fs::read(&path).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&path, gzip((kept.join("\n") + "\n").as_bytes())).unwrap();
    let before_rows = read_lake(&lake).height();
    let out = ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert!(stdout(&out).contains(" 1 read"), "{}", stdout(&out));
    let after = read_lake(&lake);
    assert_eq!(
        after.height(),
        before_rows - entry["rows"].as_u64().unwrap() as usize + 2
    );
    let from_key = str_col(&after, "source_object")
        .iter()
        .filter(|k| **k == Some(key.as_str()))
        .count();
    assert_eq!(from_key, 2);
}

#[test]
fn listing_follows_pagination_past_1000_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("s3"));
    let folder = server.root.join(BUCKET).join("workers/20251119");
    std::fs::create_dir_all(&folder).unwrap();
    let n = 2_100;
    for i in 0..n {
        let line = format!(
            "{{\"EventTimestampMs\":{},\"ScriptName\":\"s\",\"WallTimeMs\":1}}\n",
            1_763_510_400_000_i64 + i
        );
        std::fs::write(
            folder.join(format!("20251119T0000{i:05}Z_x_{i:04x}.log.gz")),
            gzip(line.as_bytes()),
        )
        .unwrap();
    }
    let lake = tmp.path().join("lake");
    let out = ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert!(
        stdout(&out).contains(&format!(
            "{} objects listed, {} read",
            thousands(n),
            thousands(n)
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(read_lake(&lake).height(), n as usize);
    assert!(
        server.stats.list.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "2,100 keys take three pages"
    );
}

fn thousands(n: i64) -> String {
    tracecost::core::numbers::thousands(n as u64)
}

#[test]
fn faults_on_a_seeded_schedule_still_give_the_clean_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, disk_lake) = archive(tmp.path(), 5, "2");
    let server = Server::start(&tmp.path().join("s3"));
    server.upload(&sim.join("logpush"), "workers");
    server.set_faults(42, 0.3);
    let lake = tmp.path().join("from-s3");
    ok(mirror_s3(
        tmp.path(),
        &server,
        &lake,
        &["--from", "2025-11-18", "--to", "2025-11-19"],
        &CREDENTIALS,
    ));
    let faults = server
        .stats
        .faults
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(faults > 10, "only {faults} faults were injected");
    assert_eq!(data_files(&lake), data_files(&disk_lake));
}

#[test]
fn a_killed_mirror_rerun_gives_the_clean_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, disk_lake) = archive(tmp.path(), 6, "8");
    let server = Server::start(&tmp.path().join("s3"));
    server.upload(&sim.join("logpush"), "workers");
    server.set_faults(7, 0.1);
    let lake = tmp.path().join("from-s3");
    let p = pipeline(tmp.path());
    let source = format!("s3://{BUCKET}/workers");
    let mut child = bin()
        .args([
            "mirror",
            "--pipeline",
            p.to_str().unwrap(),
            "--source",
            &source,
            "--endpoint",
            &server.endpoint,
            "--lake",
            lake.to_str().unwrap(),
        ])
        .envs(CREDENTIALS)
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::fs::read_dir(&lake).map(|d| d.count()).unwrap_or(0) < 3
        && started.elapsed().as_secs() < 60
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    assert!(
        child.wait().unwrap().code().is_none(),
        "the mirror ended before it was killed"
    );
    server.clear_faults();
    ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert_eq!(data_files(&lake), data_files(&disk_lake));
}

#[test]
fn hostile_keys_are_refused_and_nothing_lands_outside_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let (sim, _) = archive(tmp.path(), 3, "1");
    let server = Server::start(&tmp.path().join("s3"));
    server.upload(&sim.join("logpush"), "workers");
    server.faults.lock().unwrap().inject_keys = vec![
        "workers/../../escaped.log.gz".into(),
        "workers/20251118/./dot.log.gz".into(),
    ];
    let lake = tmp.path().join("lake/inner");
    let out = ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    assert!(stdout(&out).contains("refused keys 2"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("refused: key \"../../escaped.log.gz\""),
        "{}",
        stderr(&out)
    );
    let escaped = walk(tmp.path())
        .into_iter()
        .any(|p| p.to_string_lossy().contains("escaped"));
    assert!(!escaped, "a file named after the hostile key exists");
}

#[test]
fn wrong_credentials_and_an_unreachable_endpoint_are_one_clear_line_without_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("s3"));
    let lake = tmp.path().join("lake");
    let wrong_secret = "not-the-secret-Kx81MZt1";
    let out = mirror_s3(
        tmp.path(),
        &server,
        &lake,
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", wrong_secret),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("credentials were refused"), "{err}");
    for secret in [wrong_secret, SECRET_KEY] {
        assert!(
            !err.contains(secret) && !stdout(&out).contains(secret),
            "{err}"
        );
    }

    let p = pipeline(tmp.path());
    let out = run_env(
        &[
            "mirror",
            "--pipeline",
            p.to_str().unwrap(),
            "--source",
            "s3://logs/workers",
            "--endpoint",
            "http://127.0.0.1:9",
            "--lake",
            lake.to_str().unwrap(),
        ],
        &CREDENTIALS,
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot connect") && err.contains("127.0.0.1:9"),
        "{err}"
    );
    assert!(!err.contains(SECRET_KEY), "{err}");

    let out = run_env(
        &[
            "mirror",
            "--pipeline",
            p.to_str().unwrap(),
            "--source",
            "s3://logs/workers",
            "--lake",
            lake.to_str().unwrap(),
        ],
        &CREDENTIALS,
    );
    assert!(stderr(&out).contains("--account-id"), "{}", stderr(&out));
}

#[test]
fn an_object_larger_than_the_memory_cap_is_skipped_and_listed_and_the_rest_read() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src/20251119");
    std::fs::create_dir_all(&src).unwrap();
    let line = r#"{"EventTimestampMs":1763510000000,"ScriptName":"s","EventType":"fetch"}"#;
    std::fs::write(src.join("small.log.gz"), gzip(line.as_bytes())).unwrap();
    // Random text does not compress: the object stays larger than the cap.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: String = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    let big = format!("{{\"EventTimestampMs\":1763510000000,\"ScriptName\":\"{noise}\"}}");
    std::fs::write(src.join("big.log.gz"), gzip(big.as_bytes())).unwrap();
    let server = Server::start(&tmp.path().join("s3"));
    server.upload(&tmp.path().join("src"), "workers");
    let p = tmp.path().join("capped.toml");
    std::fs::write(&p, "name = \"s3\"\n[source.s3]\nmax_object_bytes = 4096\n").unwrap();
    let lake = tmp.path().join("lake");
    let source = format!("s3://{BUCKET}/workers");
    let args = [
        "mirror",
        "--pipeline",
        p.to_str().unwrap(),
        "--source",
        &source,
        "--endpoint",
        &server.endpoint,
        "--lake",
        lake.to_str().unwrap(),
    ];
    let out = ok(run_env(&args, &CREDENTIALS));
    assert!(stdout(&out).contains("skipped 1"), "{}", stdout(&out));
    assert_eq!(read_lake(&lake).height(), 1);
    let listed = std::fs::read_to_string(lake.join("_quarantine/skipped.jsonl")).unwrap();
    assert!(
        listed.contains("20251119/big.log.gz") && listed.contains("max_object_bytes"),
        "{listed}"
    );
    assert_eq!(server.gets(), 1, "the large object is never fetched");
}

/// Issue 16: an S3 object's delivery time is the listing's LastModified
/// (even when its name carries a batch end time), and its events' delays
/// are measured from it.
#[test]
fn an_s3_object_is_delivered_at_its_last_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("s3"));
    let key = "20251118/20251118T204500Z_20251118T205000Z_1a2b3c4d.log.gz";
    let path = server.root.join(BUCKET).join("workers").join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let event =
        |ts: i64| format!("{{\"EventTimestampMs\":{ts},\"ScriptName\":\"s\",\"WallTimeMs\":1}}");
    // Stored 2025-11-18T20:52:05Z, 2 min 5 s after the batch end of its name.
    let stored: i64 = 1_763_499_125_000;
    let body = [event(stored - 65_000), event(stored - 200_400)].join("\n");
    std::fs::write(&path, gzip(body.as_bytes())).unwrap();
    let modified = std::time::UNIX_EPOCH + std::time::Duration::from_millis(stored as u64);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    let lake = tmp.path().join("lake");
    ok(mirror_s3(tmp.path(), &server, &lake, &[], &CREDENTIALS));
    let entry = &read_json(&lake.join("_manifest.json"))["objects"][key];
    assert_eq!(entry["delivery_source"], "last_modified");
    assert_eq!(entry["delivered_ms"], stored);
    assert_eq!(
        entry["delays"]["2025-11-18"],
        serde_json::json!({"counts": "65:1 200:1", "max_ms": 200_400})
    );
}
