//! `teleaudit merge`: the shard files of `scan --shard I/N --format shard`
//! merge into the report one run would have written, byte for byte but
//! for timings, with its exit code; a shard that is missing or cut is
//! reported, and the other shards' findings are all kept.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{Link, Net, ts};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

/// A batch of a device's captures, in nested folders: uploads of two
/// IMEIs, a serial and e-mail addresses to a few hosts; a capture named
/// after an IMEI another capture sends (masked in every report); a file
/// that is not a capture and a capture cut short (an error).
fn device_folder(name: &str) -> PathBuf {
    let dir = support::tmpdir(&format!("merge-device-{name}"));
    let imeis = ["356938035643809", "490154203237518"];
    for i in 0..14u32 {
        let mut net = Net::default();
        let t = 1_483_606_800 + i64::from(i) * 3600;
        for (k, imei) in imeis.iter().enumerate().take(1 + (i % 2) as usize) {
            let host = format!("h{}.example.com", (i + k as u32) % 3);
            let req = format!(
                "GET /v1/ping?imei={imei}&sn=R58M{i:04}ABC&mail=user{i}@example.org HTTP/1.1\r\nHost: {host}\r\n\r\n"
            );
            let client = format!("10.0.0.{}:{}", 2 + k, 40_000 + i);
            net.http(
                ts(t + k as i64, 0),
                &client,
                "93.184.216.34:80",
                req.as_bytes(),
                b"HTTP/1.1 204 No Content\r\n\r\n",
                7 + i,
            );
        }
        let sub = ["", "a/", "b/c/"][(i % 3) as usize];
        let name = if i == 9 { format!("dev-{}.pcap", imeis[1]) } else { format!("cap{i:02}.pcap") };
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        let bytes = support::pcap(&net, Link::Ethernet, i % 4 == 1, false);
        let bytes = if i == 5 { bytes[..bytes.len() - 7].to_vec() } else { bytes };
        std::fs::write(dir.join(sub).join(name), bytes).unwrap();
    }
    std::fs::write(dir.join("a/notes.txt"), "not a capture\n").unwrap();
    dir
}

fn folders() -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"), device_folder("same")];
    v.extend(support::corpus());
    v.extend(support::corpus_extra());
    v
}

/// The report without what differs from one run to the next: times and
/// peak memory.
fn untimed(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let json = regex::Regex::new(r#""(elapsed_seconds|elapsed_secs|peak_memory_bytes)": ?[0-9.e+-]+"#).unwrap();
    let seconds = regex::Regex::new(r"(?m)errors?; [0-9.]+ s$").unwrap();
    seconds.replace_all(&json.replace_all(&text, r#""$1":T"#), "errors; T s").into_owned()
}

/// Scans `dir` in `n` shards into `out`; the shard files' paths.
fn shards(dir: &str, n: u64, out: &Path, extra: &[&str]) -> Vec<String> {
    (0..n)
        .map(|i| {
            let file = out.join(format!("shard-{i}.jsonl")).display().to_string();
            let spec = format!("{i}/{n}");
            let mut args = vec!["scan", dir, "--shard", &spec, "--format", "shard", "-o", &file];
            args.extend_from_slice(extra);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(0), "shard {spec}: {}", String::from_utf8_lossy(&o.stderr));
            file
        })
        .collect()
}

fn merge(files: &[String], format: &str, extra: &[&str]) -> Output {
    let mut args = vec!["merge", "--format", format];
    args.extend(files.iter().map(String::as_str));
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn merged_shards_are_the_single_run_for_1_to_5_shards() {
    for dir in folders() {
        let d = dir.to_str().unwrap();
        let out = support::tmpdir(&format!("merge-{}", dir.file_name().unwrap().to_string_lossy()));
        for format in ["jsonl", "sarif", "text"] {
            let single = run(&["scan", d, "--format", format]);
            assert!(!single.stdout.is_empty());
            for n in 1..=5 {
                let files = shards(d, n, &out, &[]);
                let merged = merge(&files, format, &[]);
                assert_eq!(merged.status.code(), single.status.code(), "{n} shards of {d}, {format}");
                assert!(
                    untimed(&merged.stdout) == untimed(&single.stdout),
                    "{n} shards of {d}, {format}: the merged report differs from the single run"
                );
                assert_eq!(merged.stderr, single.stderr, "{n} shards of {d}, {format}: stderr");
            }
        }
    }
}

#[test]
fn reporting_options_given_to_merge_act_as_on_a_single_run() {
    let dir = device_folder("options");
    let d = dir.to_str().unwrap();
    let out = support::tmpdir("merge-options");
    let files = shards(d, 3, &out, &[]);
    let single_baseline = out.join("single.baseline").display().to_string();
    let merged_baseline = out.join("merged.baseline").display().to_string();
    let cases: [&[&str]; 5] = [
        &["--show-values"],
        &["--kind", "imei", "--fail-on", "high"],
        &["--min-severity", "high", "--host", "*.com"],
        &["--details"],
        &["--fail-on", "never"],
    ];
    for extra in cases {
        for format in ["jsonl", "text"] {
            let mut args = vec!["scan", d, "--format", format];
            args.extend_from_slice(extra);
            let single = run(&args);
            let merged = merge(&files, format, extra);
            assert_eq!(merged.status.code(), single.status.code(), "{extra:?} {format}");
            assert!(untimed(&merged.stdout) == untimed(&single.stdout), "{extra:?} {format}");
        }
    }
    // A baseline written from the merge is the single run's, and it
    // suppresses the same.
    let single = run(&["scan", d, "--write-baseline", &single_baseline]);
    let merged = merge(&files, "text", &["--write-baseline", &merged_baseline]);
    assert_eq!(merged.status.code(), single.status.code());
    let (a, b) = (std::fs::read(&single_baseline).unwrap(), std::fs::read(&merged_baseline).unwrap());
    assert!(a.len() > 100 && a == b, "the baselines differ");
    let single = run(&["scan", d, "--format", "jsonl", "--baseline", &single_baseline]);
    let merged = merge(&files, "jsonl", &["--baseline", &single_baseline]);
    assert_eq!(merged.status.code(), single.status.code());
    assert_eq!(untimed(&merged.stdout), untimed(&single.stdout));
}

/// (capture, findings) of a JSON Lines report, and its captures' errors.
fn findings_by_capture(out: &Output) -> (Vec<String>, Vec<(String, String)>) {
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
        match v["type"].as_str() {
            Some("finding") => findings.push(untimed(l.as_bytes())),
            Some("error") => {
                errors.push((v["capture"].as_str().unwrap_or("").to_string(), v["message"].as_str().unwrap().into()))
            }
            _ => {}
        }
    }
    (findings, errors)
}

#[test]
fn a_missing_or_cut_shard_is_reported_and_the_others_are_kept() {
    let dir = device_folder("missing");
    let d = dir.to_str().unwrap();
    let out = support::tmpdir("merge-missing");
    let files = shards(d, 3, &out, &[]);
    let single = run(&["scan", d, "--format", "jsonl"]);
    let (all, _) = findings_by_capture(&single);
    // Which captures each shard holds, from the single run split by hand.
    let owned = |i: usize| -> Vec<String> {
        let one = merge(&files[i..=i], "jsonl", &[]);
        let (_, errors) = findings_by_capture(&one);
        let kept: Vec<String> = String::from_utf8_lossy(&one.stdout)
            .lines()
            .filter(|l| l.contains(r#""type":"capture""#))
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["capture"].as_str().unwrap().to_string())
            .filter(|c| !errors.iter().any(|(e, m)| e == c && m.contains("not scanned")))
            .collect();
        kept
    };
    let shard1 = owned(1);
    assert!(!shard1.is_empty() && !owned(0).is_empty(), "a shard of 3 holds no capture: pick another split");

    // Shard 1 missing: its captures are errors naming it, every other
    // finding is there, exit 2.
    let merged = merge(&[files[0].clone(), files[2].clone()], "jsonl", &[]);
    assert_eq!(merged.status.code(), Some(2));
    let (found, errors) = findings_by_capture(&merged);
    for c in &shard1 {
        assert!(
            errors.iter().any(|(e, m)| e == c && m.contains("shard 1/3 is missing")),
            "{c}: no error naming the missing shard in {errors:?}"
        );
    }
    assert!(errors.iter().any(|(e, m)| e == "shard 1/3" && m.starts_with("missing")), "{errors:?}");
    let expected: Vec<&String> =
        all.iter().filter(|f| !shard1.iter().any(|c| f.contains(&format!(r#""capture":"{c}""#)))).collect();
    assert_eq!(found.iter().collect::<Vec<_>>(), expected, "findings of the shards given");
    assert!(String::from_utf8_lossy(&merged.stderr).contains("shard 1/3"));

    // Shard 1 cut in the middle of a line (a task killed while writing):
    // what it holds before the cut is kept, the rest are errors.
    let text = std::fs::read(&files[1]).unwrap();
    let lines: Vec<usize> = text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
    assert!(lines.len() > 3);
    let cut = out.join("cut.jsonl");
    std::fs::write(&cut, &text[..lines[lines.len() / 2] + 5]).unwrap();
    let cut = cut.display().to_string();
    let merged = merge(&[files[0].clone(), cut, files[2].clone()], "jsonl", &[]);
    assert_eq!(merged.status.code(), Some(2));
    let (found, errors) = findings_by_capture(&merged);
    assert!(errors.iter().any(|(_, m)| m.contains("cut short")), "{errors:?}");
    for f in &expected {
        assert!(found.contains(f), "a finding of another shard is lost: {f}");
    }
    assert!(found.len() >= expected.len());
}

#[test]
fn shards_of_different_runs_or_twice_the_same_are_refused() {
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let out = support::tmpdir("merge-refused");
    let files = shards(d, 2, &out, &[]);
    let other = support::tmpdir("merge-refused-other");
    let others = shards(d, 2, &other, &["--max-body", "1000"]);
    let o = merge(&[files[0].clone(), others[1].clone()], "jsonl", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("different runs"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = merge(&[files[0].clone(), files[0].clone()], "jsonl", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"));
    // A report is not a shard file.
    let report = out.join("report.jsonl");
    std::fs::write(&report, run(&["scan", d, "--format", "jsonl"]).stdout).unwrap();
    let o = merge(&[report.display().to_string()], "jsonl", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a shard file"));
}

#[test]
fn a_shard_file_is_written_only_to_a_file_its_owner_alone_reads() {
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let o = run(&["scan", d, "--shard", "0/2", "--format", "shard"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let o = run(&["scan", d, "--format", "shard", "--kind", "imei", "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(2), "reporting options belong to merge");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let out = support::tmpdir("merge-mode");
        let files = shards(d, 1, &out, &[]);
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

#[test]
fn diff_compares_sharded_runs_as_it_compares_folders() {
    let dir = device_folder("diff");
    let new = dir.to_str().unwrap();
    let old_dir = dir.join("a");
    let old = old_dir.to_str().unwrap();
    let out = support::tmpdir("merge-diff");
    let (old_shards, new_shards) = (out.join("old"), out.join("new"));
    std::fs::create_dir_all(&old_shards).unwrap();
    std::fs::create_dir_all(&new_shards).unwrap();
    shards(old, 2, &old_shards, &[]);
    shards(new, 3, &new_shards, &[]);
    for format in ["text", "jsonl"] {
        let folders = run(&["diff", old, new, "--format", format]);
        let sharded = run(&["diff", old_shards.to_str().unwrap(), new_shards.to_str().unwrap(), "--format", format]);
        assert_eq!(sharded.status.code(), folders.status.code(), "{format}");
        assert!(folders.stdout.len() > 100);
        assert_eq!(String::from_utf8_lossy(&sharded.stdout), String::from_utf8_lossy(&folders.stdout), "{format}");
    }
}

#[test]
fn a_capture_copied_anew_is_the_same_capture_and_a_rewritten_one_is_stale() {
    let dir = device_folder("copied");
    let d = dir.to_str().unwrap();
    let out = support::tmpdir("merge-copied");
    let files = shards(d, 2, &out, &[]);
    // Every capture copied again (as to a node's own disk): new times,
    // the same bytes. The rescanned shard 1 is still of this run.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for e in walkdir::WalkDir::new(&dir).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let f = std::fs::File::options().write(true).open(e.path()).unwrap();
        f.set_modified(later).unwrap();
    }
    let again = shards(d, 2, &support::tmpdir("merge-copied-again"), &[]);
    let single = run(&["scan", d, "--format", "jsonl"]);
    let merged = merge(&[files[0].clone(), again[1].clone()], "jsonl", &[]);
    assert_eq!(merged.status.code(), single.status.code(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(untimed(&merged.stdout), untimed(&single.stdout));
    // A capture rewritten with other traffic, its shard rescanned: the
    // other shard's file is of an earlier scan, stale.
    let (name, owner) = {
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let h: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let first = &h["teleaudit_shard"]["discovery"]["inputs"][0];
        (first[0].as_str().unwrap().to_string(), first[1].as_u64().unwrap())
    };
    let mut net = Net::default();
    net.http(
        ts(1_500_000_000, 0),
        "10.0.0.9:4000",
        "93.184.216.34:80",
        b"GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        1,
    );
    std::fs::write(&name, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let fresh = shards(d, 2, &support::tmpdir("merge-copied-fresh"), &[]);
    let merged = merge(&[files[(1 - owner) as usize].clone(), fresh[owner as usize].clone()], "jsonl", &[]);
    assert_eq!(merged.status.code(), Some(2));
    let err = String::from_utf8_lossy(&merged.stderr);
    assert!(err.contains("stale") && err.contains("has changed since"), "{err}");
}
