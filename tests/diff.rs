//! `teleaudit diff OLD NEW`: sorted by severity, to a file, in SARIF; an
//! unreadable side is an error that lists nothing.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Link, tmpdir, wiko};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts.pcap");

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

/// An empty capture (no leak) against the fixture: every leak is new.
fn empty_capture(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("empty.pcap");
    std::fs::write(&p, support::pcap(&support::Net::default(), Link::Ethernet, false, false)).unwrap();
    p
}

const RANK: [&str; 3] = ["low", "medium", "high"];

#[test]
fn new_leaks_come_most_severe_first_and_go_to_a_file() {
    let dir = tmpdir("diff-sorted");
    let old = empty_capture(&dir);
    let out_file = dir.join("diff.jsonl");
    let out = run(&["diff", "--format", "jsonl", "-o", out_file.to_str().unwrap(), old.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "written to the file, not stdout");
    let lines: Vec<Value> =
        std::fs::read_to_string(&out_file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let new: Vec<&Value> = lines.iter().filter(|v| v["type"] == "new").collect();
    assert!(new.len() >= 10, "{}", new.len());
    let ranks: Vec<usize> =
        new.iter().map(|v| RANK.iter().position(|r| v["severity"] == *r).expect("severity")).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
    // Within a severity, by destination host.
    for pair in new.windows(2) {
        if pair[0]["severity"] == pair[1]["severity"] {
            let (a, b) = (pair[0]["host"].as_str().unwrap_or(""), pair[1]["host"].as_str().unwrap_or(""));
            assert!(a <= b, "{a} before {b}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sarif_holds_the_new_leaks() {
    let dir = tmpdir("diff-sarif");
    let old = empty_capture(&dir);
    let j = run(&["diff", "--format", "jsonl", old.to_str().unwrap(), FIXTURE]);
    let new = String::from_utf8_lossy(&j.stdout).lines().filter(|l| l.contains(r#""type":"new""#)).count();
    let out = run(&["diff", "--format", "sarif", old.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one SARIF document");
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), new);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(wiko::IMEI1), "values masked");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_side_lists_nothing() {
    let dir = tmpdir("diff-unreadable");
    for (old, new) in [("/nonexistent/old.pcap", FIXTURE), (FIXTURE, "/nonexistent/new.pcap")] {
        let out = run(&["diff", old, new]);
        assert_eq!(out.status.code(), Some(2), "{old} {new}");
        assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nonexistent"), "{err}");
    }
    // A folder without captures is no better.
    let empty = dir.join("nothing");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&["diff", empty.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
