//! `--format sqlite -o FILE`: the run's results as tables; a second run
//! appends; the counts are those of JSON Lines; values masked.

mod support;

use support::tmpdir;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use rusqlite::Connection;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts.pcap");
const APPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts-pcapdroid.pcapng");
const IMEI: &str = "356938035643809";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

/// Findings by kind, and distinct fingerprints, from JSON Lines.
fn jsonl_counts(paths: &[&str]) -> (BTreeMap<String, i64>, usize) {
    let mut args = vec!["scan", "--format", "jsonl"];
    args.extend_from_slice(paths);
    let out = run(&args);
    let mut kinds = BTreeMap::new();
    let mut leaks = std::collections::BTreeSet::new();
    let mut fingerprints_of = |f: &Value| {
        // The leak of one capture: capture and fingerprint (via SARIF's
        // fields is heavier; the JSON line has no fingerprint, so use
        // what it is made of).
        let uri = f["uri"].as_str().unwrap_or("");
        let path = uri.split('?').next().unwrap_or("");
        let varying = ["endpoint", "cell_location", "geo_location", "os_version", "sts_cleartext", "sdk_upload"]
            .contains(&f["kind"].as_str().unwrap());
        let value = if varying { Value::Null } else { f["value"].clone() };
        leaks.insert(format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}",
            f["capture"], f["rule"], f["kind"], f["host"], f["method"], path, f["location"], f["field"], value
        ));
    };
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(l).expect("JSON");
        if v["type"] == "finding" {
            *kinds.entry(v["kind"].as_str().unwrap().to_string()).or_insert(0) += 1;
            fingerprints_of(&v);
        }
    }
    (kinds, leaks.len())
}

fn db_counts(db: &Connection, run: i64) -> BTreeMap<String, i64> {
    let mut st = db
        .prepare("SELECT kind, count(*) FROM findings JOIN captures USING (capture_id) WHERE run_id = ?1 GROUP BY kind")
        .unwrap();
    st.query_map([run], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).unwrap().map(Result::unwrap).collect()
}

fn scan_to(db: &Path, paths: &[&str]) -> Output {
    let mut args = vec!["scan", "--format", "sqlite", "-o", db.to_str().unwrap()];
    args.extend_from_slice(paths);
    run(&args)
}

#[test]
fn the_database_holds_what_json_lines_says_and_a_second_run_appends() {
    let dir = tmpdir("sqlite");
    let path = dir.join("results.db");
    let out = scan_to(&path, &[FIXTURE]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let (want, leaks) = jsonl_counts(&[FIXTURE]);
    let db = Connection::open(&path).unwrap();
    assert_eq!(db_counts(&db, 1), want);
    let in_view: i64 = db.query_row("SELECT count(*) FROM leaks WHERE run_id = 1", [], |r| r.get(0)).unwrap();
    assert_eq!(in_view as usize, leaks);
    // Requests with findings, each finding tied to one.
    let orphans: i64 = db
        .query_row("SELECT count(*) FROM findings WHERE request_id NOT IN (SELECT request_id FROM requests)", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(orphans, 0);
    drop(db);
    // A second run, of two captures, appends under run 2.
    let out = scan_to(&path, &[FIXTURE, APPS]);
    assert_eq!(out.status.code(), Some(1));
    let db = Connection::open(&path).unwrap();
    let runs: Vec<i64> = db
        .prepare("SELECT run_id FROM runs ORDER BY run_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs, [1, 2]);
    assert_eq!(db_counts(&db, 1), want, "run 1 untouched");
    assert_eq!(db_counts(&db, 2), jsonl_counts(&[FIXTURE, APPS]).0);
    let captures: i64 = db.query_row("SELECT count(*) FROM captures WHERE run_id = 2", [], |r| r.get(0)).unwrap();
    assert_eq!(captures, 2);
    // The apps of the PCAPdroid export.
    let apps: i64 = db
        .query_row(
            "SELECT count(*) FROM apps JOIN captures USING (capture_id) WHERE run_id = 2 AND app IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(apps >= 3, "{apps}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn values_are_masked_unless_asked() {
    let dir = tmpdir("sqlite-mask");
    let masked = dir.join("masked.db");
    scan_to(&masked, &[FIXTURE]);
    let dump = Command::new("sqlite3").arg(&masked).arg(".dump").output();
    let bytes = std::fs::read(&masked).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(IMEI), "an IMEI in the database file");
    if let Ok(d) = dump {
        assert!(!String::from_utf8_lossy(&d.stdout).contains(IMEI));
    }
    let shown = dir.join("shown.db");
    run(&["scan", "--format", "sqlite", "--show-values", "-o", shown.to_str().unwrap(), FIXTURE]);
    let db = Connection::open(&shown).unwrap();
    let n: i64 = db.query_row("SELECT count(*) FROM findings WHERE value = ?1", [IMEI], |r| r.get(0)).unwrap();
    assert!(n > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_needs_a_file() {
    let out = run(&["scan", "--format", "sqlite", FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o FILE"));
    let out = run(&["scan", "--format", "sqlite", "-o", "-", FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
}

/// On the public corpus, the counts by kind are those of JSON Lines.
#[test]
fn corpus_counts_match_json_lines() {
    let Some(corpus) = support::corpus() else { return };
    let dir = tmpdir("sqlite-corpus");
    let path = dir.join("corpus.db");
    let c = corpus.to_str().unwrap();
    scan_to(&path, &[c]);
    let db = Connection::open(&path).unwrap();
    assert_eq!(db_counts(&db, 1), jsonl_counts(&[c]).0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--all-requests`: every HTTP request has its row, with findings or
/// not; the findings are the same and point to their request.
#[test]
fn all_requests_lists_the_requests_without_findings_too() {
    let dir = tmpdir("sqlite-all");
    let some = dir.join("some.db");
    let all = dir.join("all.db");
    scan_to(&some, &[FIXTURE]);
    run(&["scan", "--format", "sqlite", "--all-requests", "-o", all.to_str().unwrap(), FIXTURE]);
    let listed = run(&["scan", "--format", "jsonl", "--all-requests", FIXTURE]);
    let http: i64 =
        String::from_utf8_lossy(&listed.stdout).lines().filter(|l| l.contains(r#""type":"request""#)).count() as i64;
    let (a, s) = (Connection::open(&all).unwrap(), Connection::open(&some).unwrap());
    let count = |db: &Connection, q: &str| -> i64 { db.query_row(q, [], |r| r.get(0)).unwrap() };
    let without = "SELECT count(*) FROM requests WHERE request_id NOT IN (SELECT request_id FROM findings)";
    assert_eq!(count(&s, without), 0, "without the flag, only requests with findings");
    assert!(count(&a, without) > 0);
    let http_rows = count(&a, "SELECT count(*) FROM requests WHERE protocol LIKE 'http%'");
    assert_eq!(http_rows, http);
    assert_eq!(db_counts(&a, 1), db_counts(&s, 1), "the same findings");
    let _ = std::fs::remove_dir_all(&dir);
}
