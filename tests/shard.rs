//! `--shard I/N`: the shards of a folder together scan every capture once.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teleaudit"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run teleaudit")
}

/// (captures, findings) of a run's JSON Lines, findings as their lines.
fn scanned(out: &Output) -> (BTreeSet<String>, Vec<String>) {
    let mut captures = BTreeSet::new();
    let mut findings = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        match v["type"].as_str() {
            Some("capture") => {
                captures.insert(v["capture"].as_str().unwrap().to_string());
            }
            Some("finding") => findings.push(l.to_string()),
            _ => {}
        }
    }
    findings.sort();
    (captures, findings)
}

fn folders() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")];
    v.extend(support::corpus());
    v
}

#[test]
fn the_shards_together_scan_every_capture_once() {
    for dir in folders() {
        let d = dir.to_str().unwrap();
        let whole = scanned(&run(&["scan", "--format", "jsonl", "--show-values", d], &[]));
        assert!(!whole.0.is_empty());
        for n in 1..=5u64 {
            let mut captures = BTreeSet::new();
            let mut findings = Vec::new();
            for i in 0..n {
                let spec = format!("{i}/{n}");
                let out = run(&["scan", "--format", "jsonl", "--show-values", "--shard", &spec, d], &[]);
                assert!(matches!(out.status.code(), Some(0..=2)), "{spec}: {:?}", out.status);
                let (c, f) = scanned(&out);
                for x in c {
                    assert!(captures.insert(x.clone()), "{x} in two shards of {n}");
                }
                findings.extend(f);
            }
            findings.sort();
            assert_eq!(captures, whole.0, "{n} shards of {d}");
            assert_eq!(findings, whole.1, "{n} shards of {d}");
        }
    }
}

#[test]
fn auto_takes_the_shard_from_slurm_or_kubernetes() {
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let spec = |args: &[&str], env: &[(&str, &str)]| {
        let mut a = vec!["scan", "--format", "jsonl"];
        a.extend_from_slice(args);
        a.push(d);
        scanned(&run(&a, env)).0
    };
    let slurm = [("SLURM_ARRAY_TASK_ID", "11"), ("SLURM_ARRAY_TASK_MIN", "10"), ("SLURM_ARRAY_TASK_COUNT", "2")];
    assert_eq!(spec(&["--shard", "auto"], &slurm), spec(&["--shard", "1/2"], &[]));
    let k8s = [("JOB_COMPLETION_INDEX", "0")];
    assert_eq!(spec(&["--shard", "auto/2"], &k8s), spec(&["--shard", "0/2"], &[]));
    // Without the engine's variables, or a bad spec: an error.
    for (args, env) in [(vec!["--shard", "auto"], vec![]), (vec!["--shard", "2/2"], vec![])] {
        let mut a = vec!["scan"];
        a.extend_from_slice(&args);
        a.push(d);
        let out = run(&a, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--shard"));
    }
}

/// More shards than captures: the empty ones are clean runs, not errors.
#[test]
fn an_empty_shard_exits_clean() {
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut empty = 0;
    for i in 0..16 {
        let spec = format!("{i}/16");
        let out = run(&["scan", "--format", "jsonl", "--shard", &spec, d], &[]);
        if scanned(&out).0.is_empty() {
            empty += 1;
            assert_eq!(out.status.code(), Some(0), "{spec}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    assert!(empty > 0);
}
