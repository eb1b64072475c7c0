//! `teleaudit merge` attacked, from outside: inputs built here (the
//! capture writer of `tests/support`, folders laid out for it) and the
//! shared corpora, scanned once whole and once in N shards
//! (`--format shard`), the shards merged. What merge writes must be what
//! the single scan wrote, byte for byte but for the run's own timings
//! (`elapsed_seconds`, `peak_memory_bytes`, the text summary's trailing
//! seconds, SQLite's start time and durations), with the same exit code,
//! for every format and reporting option. And a shard that fails (missing,
//! cut anywhere, empty, hostile, from another run, given twice...) is exit
//! 2, named, with every other shard's findings kept.
//!
//! Written independently of the lead's tests: each case here is one a
//! checker of the issue would try.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

use serde_json::Value;
use support::{Link, Net, ts};

// ---------------------------------------------------------------------
// Running teleaudit

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-merge-attack-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A report without what a run measures of itself: the JSON keys
/// `elapsed_seconds`, `elapsed_secs`, `peak_memory_bytes` (compact or
/// pretty-printed) and the text summary's trailing `; 0.04 s`.
fn timeless(bytes: &[u8]) -> String {
    static KEYS: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#""(elapsed_seconds|elapsed_secs|peak_memory_bytes)":\s*(null|[-0-9.eE+]+),?\s*"#)
            .expect("regex")
    });
    static SECS: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(?m); [0-9]+(\.[0-9]+)? s$").expect("regex"));
    let text = String::from_utf8_lossy(bytes);
    let text = KEYS.replace_all(&text, "");
    SECS.replace_all(&text, "").into_owned()
}

/// Panics, showing the first differing line, unless `a` and `b` are
/// the same report (timings aside).
/// The merge exits as the single run did, with the same report.
fn assert_same_run(single: &Output, merged: &Output, what: &str) {
    assert_eq!(single.status.code(), merged.status.code(), "{what}: exit code; merge said {}", stderr(merged));
    assert_same_report(&single.stdout, &merged.stdout, what);
}

fn assert_same_report(single: &[u8], merged: &[u8], what: &str) {
    let (a, b) = (timeless(single), timeless(merged));
    if a == b {
        return;
    }
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        assert_eq!(x, y, "{what}: line {} differs (single run, then merge)", i + 1);
    }
    panic!("{what}: {} lines in the single run, {} in the merge", a.lines().count(), b.lines().count());
}

/// Scans `paths` into `n` shard files in a new folder `dir/name`; every
/// shard scan must succeed. `opts` are the scan options (detection,
/// limits); odd shards run with `-j 2`, even ones with `-j 1`.
fn shards(dir: &Path, name: &str, n: u64, opts: &[&str], paths: &[&str]) -> PathBuf {
    shards_of("scan", dir, name, n, opts, paths)
}

fn shards_of(mode: &str, dir: &Path, name: &str, n: u64, opts: &[&str], paths: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("shard folder");
    for i in 0..n {
        let file = out.join(format!("shard-{i}"));
        let spec = format!("{i}/{n}");
        let jobs = if i % 2 == 0 { "1" } else { "2" };
        let mut args = vec![mode, "--format", "shard", "--shard", &spec, "-j", jobs, "-o", s(&file)];
        args.extend_from_slice(opts);
        args.extend_from_slice(paths);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{mode} --shard {spec}: {}", stderr(&o));
        assert!(file.is_file(), "{mode} --shard {spec} wrote no file");
    }
    out
}

fn shard_file(folder: &Path, i: u64) -> PathBuf {
    folder.join(format!("shard-{i}"))
}

/// The JSON Lines records of a run.
fn records(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The finding lines of a JSON Lines run, sorted, as text (with
/// `--show-values` they hold the values).
fn findings(o: &Output) -> Vec<String> {
    let mut v: Vec<String> = records(o).iter().filter(|r| r["type"] == "finding").map(Value::to_string).collect();
    v.sort();
    v
}

/// The finding lines of captures in `captures` only.
fn findings_in(o: &Output, captures: &BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = records(o)
        .iter()
        .filter(|r| r["type"] == "finding" && captures.contains(r["capture"].as_str().unwrap_or_default()))
        .map(Value::to_string)
        .collect();
    v.sort();
    v
}

/// The shard file's header, and the captures of the run each with its shard.
fn header(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).expect("shard file");
    let first = text.lines().next().expect("a header line");
    serde_json::from_str::<Value>(first).expect("header JSON")["teleaudit_shard"].clone()
}

fn owners(file: &Path) -> Vec<(String, u64)> {
    header(file)["discovery"]["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
        .collect()
}

fn captures_of(owners: &[(String, u64)], keep: impl Fn(u64) -> bool) -> BTreeSet<String> {
    owners.iter().filter(|(_, o)| keep(*o)).map(|(n, _)| n.clone()).collect()
}

/// Captures that the JSON Lines report shows with an error.
fn captures_with_errors(o: &Output) -> BTreeSet<String> {
    records(o)
        .iter()
        .filter(|r| r["type"] == "capture" && r["errors"].as_u64().unwrap_or(0) > 0)
        .map(|r| r["capture"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------
// Inputs

/// A Luhn-valid IMEI with a GSMA reporting-body prefix.
fn imei(n: u32) -> String {
    let body = format!("35693803{n:06}");
    let mut sum = 0;
    for (i, c) in body.chars().rev().enumerate() {
        let mut d = c.to_digit(10).unwrap();
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The IMEI every capture sends (a value learnt in the first capture is
/// masked wherever it appears later in the run).
fn shared_imei() -> String {
    imei(1)
}

/// Capture `c`: requests to five hosts shared with other captures, an
/// IMEI field that takes several values to one place (`(N values)`), a
/// MAC and a serial, a POST body, and the shared IMEI inside a token no
/// detector takes (only the report's masking hides it).
fn capture(c: u32) -> Net {
    let mut net = Net::default();
    let client = format!("10.0.{}.{}:40000", c % 4, 10 + c);
    let mut t = 1_600_000_000 + i64::from(c) * 3600;
    let mut isn = 1000 + c * 7919;
    let mut http = |net: &mut Net, ip: u8, req: String| {
        let server = format!("203.0.113.{ip}:80");
        let client = client.replace(":40000", &format!(":{}", 40000 + isn % 20000));
        net.http(ts(t, 0), &client, &server, req.as_bytes(), b"HTTP/1.1 204 No Content\r\n\r\n", isn);
        t += 7;
        isn += 100_003;
    };
    for r in 0..4 {
        let req = format!(
            "GET /v1/collect?imei={}&seq={r} HTTP/1.1\r\nHost: collect.example\r\n\r\n",
            imei(100 + c * 10 + r % 3)
        );
        http(&mut net, 9, req);
    }
    for r in 0..5u32 {
        let h = (c + r) % 5;
        let host = format!("h{h}.example");
        let req = format!(
            "GET /t/{r}?mac=a4:5e:60:{:02x}:{:02x}:56&sn=SN{c:02}X{r}Q7K&imei={} HTTP/1.1\r\nHost: {host}\r\n\r\n",
            c % 256,
            r,
            shared_imei()
        );
        http(&mut net, 20 + h as u8, req);
    }
    let body =
        format!("{{\"device\":{{\"imei\":\"{}\",\"android_id\":\"9774d56d682e549c\"}},\"n\":{c}}}", imei(900 + c));
    let post = format!(
        "POST /upload HTTP/1.1\r\nHost: h{}.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        c % 5,
        body.len()
    );
    http(&mut net, 30, post);
    let req = format!("GET /p?ref=X{}Y HTTP/1.1\r\nHost: plain.example\r\n\r\n", shared_imei());
    http(&mut net, 40, req);
    net
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).expect("folder");
    std::fs::write(path, bytes).expect("write");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A folder of twelve captures in nested folders (pcap, pcapng, pcap.gz),
/// one more named with terminal escapes, a capture cut in the middle of a packet record (findings, then an
/// error), a file that starts like nothing known, files that are not
/// captures, and a link to nowhere. Returns the folder.
fn generated(dir: &Path) -> PathBuf {
    let root = dir.join("captures");
    let _ = std::fs::remove_dir_all(&root);
    for c in 0..12u32 {
        let net = capture(c);
        match c % 3 {
            0 => write(
                &root.join(format!("site-0/day-{c:02}.pcap")),
                &support::pcap(&net, Link::Ethernet, c % 2 == 0, false),
            ),
            1 => write(
                &root.join(format!("site-1/nested/deep/day-{c:02}.pcapng")),
                &support::pcapng(&net, &[(Link::Ethernet, 6), (Link::LinuxSll, 9)], false),
            ),
            _ => write(
                &root.join(format!("site-2/day-{c:02}.pcap.gz")),
                &gzip(&support::pcap(&net, Link::Raw, false, true)),
            ),
        }
    }
    let cut = support::pcap(&capture(12), Link::Ethernet, false, false);
    write(&root.join("site-0/broken/cut.pcap"), &cut[..cut.len() - 300]);
    write(&root.join("site-1/garbage.pcap"), &support::pseudo_random(17, 4000));
    // A name with terminal escapes and a carriage return, as any file
    // name may hold: every report escapes it, the merged one alike.
    let odd = support::pcap(&capture(13), Link::LinuxSll2, false, false);
    write(&root.join("site-1/odd \u{1b}[31mred\r\u{7}.pcap"), &odd);
    write(&root.join("README.txt"), b"captures of the lab, April\n");
    write(&root.join("site-2/notes.json"), b"{\"note\": \"not a capture\"}\n");
    std::os::unix::fs::symlink(root.join("gone.pcap"), root.join("site-2/link-to-nowhere.pcap")).expect("symlink");
    root
}

/// The generated folder and a path that does not exist (an error of the
/// run's discovery, in every shard's header).
fn generated_paths(dir: &Path) -> (PathBuf, PathBuf) {
    let root = generated(dir);
    (root.clone(), dir.join("no-such-capture.pcap"))
}

fn corpora() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = support::corpus().into_iter().collect();
    v.extend(support::corpus_extra());
    v
}

// ---------------------------------------------------------------------
// Merge is the single run

/// For one set of shard files: every format and `--show-values` or not,
/// merge writes what the single scan wrote, with its exit code.
fn check_formats(folder: &Path, scan_opts: &[&str], paths: &[&str], what: &str) {
    for format in ["jsonl", "sarif", "text", "html"] {
        for values in [false, true] {
            let mut report: Vec<&str> = vec!["--format", format];
            if values {
                report.push("--show-values");
            }
            let mut args = vec!["scan"];
            args.extend(&report);
            args.extend(scan_opts);
            args.extend(paths);
            let single = run(&args);
            let mut args = vec!["merge"];
            args.extend(&report);
            args.push(s(folder));
            let merged = run(&args);
            let what = format!("{what}, --format {format}{}", if values { " --show-values" } else { "" });
            assert_eq!(single.status.code(), merged.status.code(), "{what}: exit code; merge said {}", stderr(&merged));
            assert_same_report(&single.stdout, &merged.stdout, &what);
            // What the single run said on stderr (its errors, warnings
            // about folders' special files), merge says too.
            let merged_err = stderr(&merged);
            for line in stderr(&single).lines() {
                assert!(merged_err.contains(line), "{what}: merge does not say {line:?}:\n{merged_err}");
            }
        }
    }
}

#[test]
fn merged_generated_folder_is_the_single_run_for_1_2_3_7_shards() {
    let dir = tmpdir("formats");
    let (root, missing) = generated_paths(&dir);
    let paths = [s(&root), s(&missing)];
    let single = run(&["scan", "--format", "jsonl", "--show-values", paths[0], paths[1]]);
    assert_eq!(single.status.code(), Some(2), "a cut capture and a missing path: {}", stderr(&single));
    // The inputs exercise what they are meant to: many findings over
    // many hosts, the cut capture's error, leaks with several values.
    assert!(findings(&single).len() > 100, "{}", findings(&single).len());
    let text = run(&["scan", paths[0]]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(" values)"), "no `(N values)` leak");
    for n in [1, 2, 3, 7] {
        let folder = shards(&dir, &format!("n{n}"), n, &[], &paths);
        check_formats(&folder, &[], &paths, &format!("{n} shards"));
    }
}

#[test]
fn merged_corpora_are_the_single_run_in_jsonl_and_sarif() {
    let dir = tmpdir("corpora");
    let corpora = corpora();
    if corpora.is_empty() {
        return;
    }
    let paths: Vec<&str> = corpora.iter().map(|p| s(p)).collect();
    let mut singles = Vec::new();
    for format in ["jsonl", "sarif"] {
        let mut args = vec!["scan", "--format", format, "--show-values"];
        args.extend(&paths);
        singles.push((format, run(&args)));
    }
    for n in [2, 3, 7] {
        let folder = shards(&dir, &format!("n{n}"), n, &[], &paths);
        for (format, single) in &singles {
            let merged = run(&["merge", "--format", format, "--show-values", s(&folder)]);
            let what = format!("corpora in {n} shards, --format {format}");
            assert_same_run(single, &merged, &what);
        }
    }
}

#[test]
fn reporting_options_given_to_merge_act_as_on_the_scan() {
    let dir = tmpdir("options");
    let root = generated(&dir);
    let paths = [s(&root)];
    let folder = shards(&dir, "n3", 3, &[], &paths);
    let baseline = dir.join("known.json");
    let o = run(&["scan", "--format", "jsonl", "--kind", "mac", "--write-baseline", s(&baseline), paths[0]]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let cases: [&[&str]; 11] = [
        &["--format", "jsonl", "--kind", "imei"],
        &["--format", "text", "--kind", "serial", "--kind", "mac", "--show-values"],
        &["--format", "jsonl", "--host", "h3.*", "--host", "collect.example"],
        &["--format", "sarif", "--min-severity", "high"],
        &["--format", "text", "--min-severity", "medium", "--fail-on", "high"],
        &["--format", "jsonl", "--fail-on", "never"],
        &["--format", "text", "--details"],
        &["--format", "text", "--details", "--show-values", "--host", "plain.example"],
        &["--format", "jsonl", "--baseline", s(&baseline)],
        &["--format", "text", "--baseline", s(&baseline), "--fail-on", "medium"],
        &["--format", "html", "--kind", "android_id", "--show-values"],
    ];
    for opts in cases {
        let mut args = vec!["scan"];
        args.extend(opts);
        args.extend(paths);
        let single = run(&args);
        let mut args = vec!["merge"];
        args.extend(opts);
        args.push(s(&folder));
        let merged = run(&args);
        let what = opts.join(" ");
        assert_same_run(&single, &merged, &what);
    }
    // A folder without the cut capture: exit 1 on findings, and 0 below
    // the threshold, as the single run.
    let clean = root.join("site-2");
    let folder = shards(&dir, "clean", 2, &[], &[s(&clean)]);
    for fail_on in ["low", "high", "never"] {
        let single = run(&["scan", "--format", "jsonl", "--kind", "mac", "--fail-on", fail_on, s(&clean)]);
        let merged = run(&["merge", "--format", "jsonl", "--kind", "mac", "--fail-on", fail_on, s(&folder)]);
        assert_same_run(&single, &merged, &format!("clean, --fail-on {fail_on}"));
    }
}

#[test]
fn write_baseline_from_merge_is_the_scans_baseline() {
    let dir = tmpdir("baseline");
    let root = generated(&dir);
    let folder = shards(&dir, "n3", 3, &[], &[s(&root)]);
    let (a, b) = (dir.join("scan.json"), dir.join("merge.json"));
    let single = run(&["scan", "--format", "jsonl", "--write-baseline", s(&a), s(&root)]);
    let merged = run(&["merge", "--format", "jsonl", "--write-baseline", s(&b), s(&folder)]);
    assert_same_run(&single, &merged, "--write-baseline");
    let (a, b) = (std::fs::read(&a).expect("scan's baseline"), std::fs::read(&b).expect("merge's baseline"));
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "the baselines differ");
}

/// Every table of a database, as text, without the run's start time and
/// durations.
fn sqlite_tables(path: &Path) -> Vec<(String, Vec<String>)> {
    let db = rusqlite::Connection::open(path).expect("database");
    let mut tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.retain(|t| !t.starts_with("sqlite_"));
    let mut out = Vec::new();
    for t in tables {
        let mut st = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let names: Vec<String> = st.column_names().iter().map(|c| c.to_string()).collect();
        let rows: Vec<String> = st
            .query_map([], |r| {
                let mut cells = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    if name == "started" || name.contains("elapsed") {
                        continue;
                    }
                    let v = match r.get::<_, rusqlite::types::Value>(i)? {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Real(x) => x.to_string(),
                        rusqlite::types::Value::Text(t) => timeless(t.as_bytes()),
                        rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                    };
                    cells.push(format!("{name}={v}"));
                }
                Ok(cells.join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.push((t, rows));
    }
    out
}

#[test]
fn merged_sqlite_holds_the_single_runs_rows() {
    let dir = tmpdir("sqlite");
    let (root, missing) = generated_paths(&dir);
    let paths = [s(&root), s(&missing)];
    for all_requests in [false, true] {
        let extra: &[&str] = if all_requests { &["--all-requests"] } else { &[] };
        let folder = shards(&dir, &format!("n3-{all_requests}"), 3, extra, &paths);
        for values in [false, true] {
            let (a, b) = (
                dir.join(format!("single-{all_requests}-{values}.db")),
                dir.join(format!("merged-{all_requests}-{values}.db")),
            );
            let mut args = vec!["scan", "--format", "sqlite", "-o", s(&a)];
            args.extend(extra);
            if values {
                args.push("--show-values");
            }
            args.extend(paths);
            let single = run(&args);
            let mut args = vec!["merge", "--format", "sqlite", "-o", s(&b), s(&folder)];
            if values {
                args.push("--show-values");
            }
            let merged = run(&args);
            let what = format!("sqlite, --all-requests {all_requests}, --show-values {values}");
            assert_eq!(single.status.code(), merged.status.code(), "{what}: {}", stderr(&merged));
            let (ta, tb) = (sqlite_tables(&a), sqlite_tables(&b));
            assert!(ta.iter().any(|(t, rows)| t == "findings" && rows.len() > 100), "{what}: findings table");
            assert_eq!(ta.len(), tb.len(), "{what}: tables");
            for ((name, ra), (_, rb)) in ta.iter().zip(&tb) {
                for (i, (x, y)) in ra.iter().zip(rb).enumerate() {
                    assert_eq!(x, y, "{what}: table {name}, row {i}");
                }
                assert_eq!(ra.len(), rb.len(), "{what}: rows of table {name}");
            }
        }
    }
}

#[test]
fn all_requests_and_the_requests_listing_merge_as_one_run() {
    let dir = tmpdir("requests");
    let (root, missing) = generated_paths(&dir);
    let paths = [s(&root), s(&missing)];
    let folder = shards(&dir, "all", 3, &["--all-requests"], &paths);
    let single = run(&["scan", "--format", "jsonl", "--all-requests", paths[0], paths[1]]);
    let merged = run(&["merge", "--format", "jsonl", s(&folder)]);
    assert_eq!(single.status.code(), merged.status.code(), "{}", stderr(&merged));
    assert!(records(&single).iter().filter(|r| r["type"] == "request").count() > 100);
    assert_same_report(&single.stdout, &merged.stdout, "--all-requests");
    // To text, which cannot list them: refused, as the scan refuses.
    let text = run(&["merge", s(&folder)]);
    assert_eq!(text.status.code(), Some(2));
    for n in [1, 3, 7] {
        let folder = shards_of("requests", &dir, &format!("req{n}"), n, &[], &paths);
        for opts in [&["--format", "jsonl"][..], &["--format", "text"], &["--format", "text", "--show-values"]] {
            let mut args = vec!["requests"];
            args.extend(opts);
            args.extend(paths);
            let single = run(&args);
            let mut args = vec!["merge"];
            args.extend(opts);
            args.push(s(&folder));
            let merged = run(&args);
            let what = format!("requests in {n} shards, {}", opts.join(" "));
            assert_same_run(&single, &merged, &what);
        }
    }
}

#[test]
fn shard_files_in_any_order_and_profile_limits_given_to_every_shard() {
    let dir = tmpdir("order");
    let root = generated(&dir);
    let profile = dir.join("device.toml");
    write(&profile, format!("name = \"lab phone\"\nimei = \"{}\"\nserial = \"SN03X1Q7K\"\n", shared_imei()).as_bytes());
    let opts = ["--profile", s(&profile), "--max-body", "64", "--include-test-devices"];
    let folder = shards(&dir, "n3", 3, &opts, &[s(&root)]);
    let mut args = vec!["scan", "--format", "jsonl", "--show-values"];
    args.extend(opts);
    args.push(s(&root));
    let single = run(&args);
    let files: Vec<PathBuf> = (0..3).rev().map(|i| shard_file(&folder, i)).collect();
    let merged = run(&["merge", "--format", "jsonl", "--show-values", s(&files[0]), s(&files[1]), s(&files[2])]);
    assert_eq!(single.status.code(), merged.status.code(), "{}", stderr(&merged));
    assert!(findings(&single).iter().any(|f| f.contains("\"matched\":\"")), "the profile matched nothing");
    assert_same_report(&single.stdout, &merged.stdout, "shards given last first, with a profile and limits");
}

#[test]
fn more_shards_than_captures_empty_shards_present_or_missing() {
    let dir = tmpdir("sparse");
    let root = generated(&dir);
    let few = root.join("site-2");
    let folder = shards(&dir, "n7", 7, &[], &[s(&few)]);
    let single = run(&["scan", "--format", "jsonl", s(&few)]);
    let merged = run(&["merge", "--format", "jsonl", s(&folder)]);
    assert_same_run(&single, &merged, "7 shards of 4 captures");
    // Empty shards' files missing: a warning each, the same report.
    let owners = owners(&shard_file(&folder, 0));
    let empty: Vec<u64> = (0..7).filter(|i| owners.iter().all(|(_, o)| o != i)).collect();
    assert!(!empty.is_empty(), "every shard holds a capture");
    for i in &empty {
        std::fs::remove_file(shard_file(&folder, *i)).unwrap();
    }
    let merged = run(&["merge", "--format", "jsonl", s(&folder)]);
    assert_same_run(&single, &merged, "7 shards, the empty ones' files missing");
    let err = stderr(&merged);
    let line = err.lines().find(|l| l.contains("missing, but they held no capture")).expect("a warning");
    for i in &empty {
        assert!(line.contains(&format!(" {i}/7")), "{err}");
    }
}

/// A Slurm array or an Indexed Job may well have more tasks than the
/// folder has captures (a fixed array size over folders of any size).
/// The scans accept `--shard I/N` for any N; so must merge.
#[test]
fn a_shard_count_far_above_the_captures_merges_as_the_scans_accepted_it() {
    let dir = tmpdir("huge-count");
    let root = generated(&dir);
    let (cut, few) = (root.join("site-0/broken"), root.join("site-2"));
    let paths = [s(&cut), s(&few)];
    let n = 2000u64;
    let probe = dir.join("probe");
    let o = run(&["scan", "--format", "shard", "--shard", &format!("0/{n}"), "-o", s(&probe), paths[0], paths[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let held: BTreeSet<u64> = owners(&probe).into_iter().map(|(_, o)| o).collect();
    let folder = dir.join("shards");
    std::fs::create_dir_all(&folder).unwrap();
    for i in &held {
        let f = folder.join(format!("shard-{i}"));
        let o = run(&["scan", "--format", "shard", "--shard", &format!("{i}/{n}"), "-o", s(&f), paths[0], paths[1]]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let single = run(&["scan", "--format", "jsonl", paths[0], paths[1]]);
    let merged = run(&["merge", "--format", "jsonl", s(&folder)]);
    assert_eq!(
        single.status.code(),
        merged.status.code(),
        "every shard that holds a capture given; merge said: {}",
        stderr(&merged).lines().last().unwrap_or_default()
    );
    assert!(!merged.stdout.is_empty(), "no report; merge said: {}", stderr(&merged));
    assert_same_report(&single.stdout, &merged.stdout, &format!("{n} shards of {} captures", owners(&probe).len()));
}

// ---------------------------------------------------------------------
// Failing shards

/// Shards of the generated folder for the failure cases: 3 shards, the
/// single run's JSON Lines (values shown), and the captures by shard.
struct Failing {
    dir: PathBuf,
    folder: PathBuf,
    single: Output,
    owners: Vec<(String, u64)>,
}

fn failing(name: &str) -> Failing {
    let dir = tmpdir(name);
    let root = generated(&dir);
    let folder = shards(&dir, "n3", 3, &[], &[s(&root)]);
    let single = run(&["scan", "--format", "jsonl", "--show-values", s(&root)]);
    let owners = owners(&shard_file(&folder, 0));
    for i in 0..3 {
        assert!(owners.iter().any(|(_, o)| *o == i), "shard {i} holds no capture: the cases need all three");
    }
    Failing { dir, folder, single, owners }
}

impl Failing {
    /// Merges `files` (JSON Lines, values shown): exit 2, and every
    /// finding of the captures of `kept` shards is in the report.
    fn merge_keeps(&self, files: &[&Path], kept: &[u64], what: &str) -> Output {
        let mut args = vec!["merge", "--format", "jsonl", "--show-values"];
        args.extend(files.iter().map(|p| s(p)));
        let merged = run(&args);
        let err = stderr(&merged);
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(merged.status.code(), Some(2), "{what}: exit code; stderr: {err}");
        let captures = captures_of(&self.owners, |o| kept.contains(&o));
        let want = findings_in(&self.single, &captures);
        assert!(!want.is_empty(), "{what}: the kept shards have findings");
        let got = findings_in(&merged, &captures);
        let lost: Vec<&String> = want.iter().filter(|f| !got.contains(f)).collect();
        assert!(lost.is_empty(), "{what}: {} findings of the other shards lost, first {}", lost.len(), lost[0]);
        assert_eq!(want, got, "{what}: the other shards' findings");
        merged
    }

    fn file(&self, i: u64) -> PathBuf {
        shard_file(&self.folder, i)
    }

    fn lines(&self, i: u64) -> Vec<String> {
        std::fs::read_to_string(self.file(i)).unwrap().lines().map(str::to_string).collect()
    }

    /// A file `name` beside the shards holding `text` (an altered shard).
    fn replaced(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn captures_of(&self, i: u64) -> BTreeSet<String> {
        captures_of(&self.owners, |o| o == i)
    }
}

/// The shard whose file has the most findings, so cutting it loses some.
fn busiest(f: &Failing) -> u64 {
    (0..3).max_by_key(|&i| f.lines(i).iter().filter(|l| l.starts_with("{\"finding\"")).count()).unwrap()
}

#[test]
fn a_missing_shard_is_named_its_captures_are_errors_and_the_others_all_kept() {
    let f = failing("missing");
    for gone in 0..3 {
        let others: Vec<u64> = (0..3).filter(|&i| i != gone).collect();
        let files: Vec<PathBuf> = others.iter().map(|&i| f.file(i)).collect();
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let merged = f.merge_keeps(&refs, &others, &format!("shard {gone} missing"));
        let err = stderr(&merged);
        assert!(err.contains(&format!("shard {gone}/3")), "the missing shard is named: {err}");
        let errs = captures_with_errors(&merged);
        for c in f.captures_of(gone) {
            assert!(errs.contains(&c), "{c} of the missing shard {gone} shows no error");
        }
        // The report (not only stderr) says which shard is missing.
        let text = run(&["merge", s(&files[0]), s(&files[1])]);
        assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("shard {gone}/3")), "text report");
    }
}

#[test]
fn a_shard_file_cut_anywhere_is_its_captures_errors_and_keeps_the_rest() {
    let f = failing("cut");
    let b = busiest(&f);
    let lines = f.lines(b);
    let first_finding = lines.iter().position(|l| l.starts_with("{\"finding\"")).expect("a finding");
    let joined = |n: usize| lines[..n].iter().map(|l| format!("{l}\n")).collect::<String>();
    let others: Vec<u64> = (0..3).filter(|&i| i != b).collect();
    let cases = [
        ("inside a line", format!("{}{}", joined(first_finding + 1), &lines[first_finding + 1][..20])),
        ("after a finding, inside a capture", joined(first_finding + 1)),
        ("after the header", joined(1)),
        ("inside the header", lines[0][..lines[0].len() / 2].to_string()),
        ("empty", String::new()),
    ];
    for (what, text) in cases {
        let cut = f.replaced("cut", &text);
        let mut files: Vec<PathBuf> = others.iter().map(|&i| f.file(i)).collect();
        files.push(cut);
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let merged = f.merge_keeps(&refs, &others, &format!("shard {b} cut {what}"));
        let errs = captures_with_errors(&merged);
        for c in f.captures_of(b) {
            assert!(errs.contains(&c), "cut {what}: {c} shows no error");
        }
        // What the cut file holds before the cut is kept.
        if what.starts_with("after a finding") || what == "inside a line" {
            let kept: Value = serde_json::from_str(&lines[first_finding]).unwrap();
            let value = kept["finding"]["value"].as_str().unwrap();
            assert!(findings(&merged).iter().any(|l| l.contains(value)), "cut {what}: the finding before the cut");
        }
    }
}

/// Every capture of the shard is there, only the `done` line is not:
/// nothing is lost, the report is the single run's; merge warns.
#[test]
fn a_shard_file_without_its_done_line_is_warned_about() {
    let f = failing("done");
    let b = busiest(&f);
    let lines = f.lines(b);
    assert!(lines.last().unwrap().starts_with("{\"done\""));
    let text: String = lines[..lines.len() - 1].iter().map(|l| format!("{l}\n")).collect();
    let cut = f.replaced("no-done", &text);
    let mut files: Vec<PathBuf> = (0..3).filter(|&i| i != b).map(|i| f.file(i)).collect();
    files.push(cut.clone());
    let mut args = vec!["merge", "--format", "jsonl", "--show-values"];
    args.extend(files.iter().map(|p| s(p)));
    let merged = run(&args);
    assert_eq!(merged.status.code(), f.single.status.code());
    assert_same_report(&f.single.stdout, &merged.stdout, "without `done`");
    assert!(stderr(&merged).contains("no-done") && stderr(&merged).contains("done"), "{}", stderr(&merged));
}

#[test]
fn a_file_that_is_no_shard_file_given_by_name_is_an_error_and_all_shards_kept() {
    let f = failing("not-shard");
    let junk = f.dir.join("slurm-1234_0.out");
    std::fs::write(&junk, "task 0 started\n").unwrap();
    let files: Vec<PathBuf> = (0..3).map(|i| f.file(i)).chain([junk.clone()]).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let merged = f.merge_keeps(&refs, &[0, 1, 2], "a log file given with the shards");
    assert!(stderr(&merged).contains("slurm-1234_0.out"), "{}", stderr(&merged));
    // In the shards' folder, it is passed over with a warning.
    std::fs::copy(&junk, f.folder.join("slurm-1234_0.out")).unwrap();
    let merged = run(&["merge", "--format", "jsonl", "--show-values", s(&f.folder)]);
    assert_eq!(merged.status.code(), f.single.status.code(), "{}", stderr(&merged));
    assert_same_report(&f.single.stdout, &merged.stdout, "a log file in the shards' folder");
}

/// Shards of another run are refused whole (the issue: merge refuses to
/// mix runs), exit 2, saying what differs, writing no report.
#[test]
fn shards_of_another_run_are_refused_saying_what_differs() {
    let f = failing("other-run");
    let root = f.dir.join("captures");
    let rules = f.dir.join("lab.toml");
    write(&rules, b"[[rule]]\nid = \"LAB-1\"\ntitle = \"Lab key\"\nseverity = \"low\"\nkind = \"lab_key\"\npattern = \"LAB-[0-9]{4}\"\n");
    let profile = f.dir.join("p.toml");
    write(&profile, format!("imei = \"{}\"\n", shared_imei()).as_bytes());
    let site = root.join("site-0");
    let cases: [(&str, Vec<&str>, Vec<&str>, &str); 5] = [
        ("other rules", vec!["--rules", s(&rules)], vec![s(&root)], "rules"),
        ("a profile", vec!["--profile", s(&profile)], vec![s(&root)], "profile"),
        ("other limits", vec!["--max-body", "100"], vec![s(&root)], "options"),
        ("another folder", vec![], vec![s(&site)], "inputs"),
        ("another shard count", vec![], vec![s(&root)], "shard count"),
    ];
    for (what, opts, paths, says) in cases {
        let n = if what == "another shard count" { 4 } else { 3 };
        let other = shards(&f.dir, "other", n, &opts, &paths);
        let stranger = shard_file(&other, 1);
        for (a, b) in [(f.file(0), stranger.clone()), (stranger.clone(), f.file(0))] {
            let merged = run(&["merge", "--format", "jsonl", s(&a), s(&b), s(&f.file(2))]);
            let err = stderr(&merged);
            assert_eq!(merged.status.code(), Some(2), "{what}: {err}");
            if says == "inputs" {
                // Shards of the run that saw other inputs (another folder,
                // or an earlier scan's file) are stale, not a reason to
                // lose the others: the inputs most files saw are the run's.
                assert!(err.contains("stale"), "{what}: {err}");
                assert!(!merged.stdout.is_empty(), "{what}: no report");
                continue;
            }
            assert!(err.contains(says), "{what}: {err}");
            assert!(merged.stdout.is_empty(), "{what}: a report was written");
        }
    }
    // Rules are checked at merge too: the shards' rules, or refused.
    let lab = shards(&f.dir, "lab", 2, &["--rules", s(&rules)], &[s(&root)]);
    let merged = run(&["merge", "--format", "sarif", s(&lab)]);
    assert_eq!(merged.status.code(), Some(2), "{}", stderr(&merged));
    assert!(stderr(&merged).contains("--rules"), "{}", stderr(&merged));
    let merged = run(&["merge", "--format", "sarif", "--rules", s(&rules), s(&lab)]);
    let single = run(&["scan", "--format", "sarif", "--rules", s(&rules), s(&root)]);
    assert_same_run(&single, &merged, "--rules");
}

#[test]
fn a_shard_given_twice_is_exit_2_and_says_so() {
    let f = failing("twice");
    let copy = f.dir.join("copy-of-1");
    std::fs::copy(f.file(1), &copy).unwrap();
    for extra in [f.file(1), copy] {
        let merged = run(&["merge", "--format", "jsonl", s(&f.file(0)), s(&f.file(1)), s(&f.file(2)), s(&extra)]);
        assert_eq!(merged.status.code(), Some(2), "{}", stderr(&merged));
        assert!(stderr(&merged).contains("twice"), "{}", stderr(&merged));
    }
}

/// A task killed mid-scan (a time limit, a preempted node) leaves its
/// temporary file beside the shard file it was writing
/// (`.NAME.teleaudit-PID-N.tmp`: see src/cli/output.rs); the task is
/// requeued and writes its shard file whole. `merge shards/` must use
/// the complete file: the leftover is no shard of the run.
#[test]
fn a_killed_tasks_leftover_temporary_file_does_not_spoil_the_merge() {
    let f = failing("leftover");
    let b = busiest(&f);
    let lines = f.lines(b);
    // What the killed task had written when it was stopped.
    let partial: String = lines[..lines.len() / 2].iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(f.folder.join(format!(".shard-{b}.teleaudit-4242-0.tmp")), partial).unwrap();
    let merged = run(&["merge", "--format", "jsonl", "--show-values", s(&f.folder)]);
    assert_eq!(merged.status.code(), f.single.status.code(), "{}", stderr(&merged));
    assert!(!merged.stdout.is_empty(), "no report; merge said: {}", stderr(&merged));
    assert_same_report(&f.single.stdout, &merged.stdout, "a leftover temporary file in the shards' folder");
}

/// `-o` (or `--write-baseline`) naming a shard file found in a folder
/// given to merge: refused, as when it is named, not overwritten.
#[test]
fn merge_refuses_to_overwrite_a_shard_file_it_found_in_a_folder() {
    let f = failing("overwrite");
    let before = std::fs::read(f.file(1)).unwrap();
    for option in ["-o", "--write-baseline"] {
        let merged = run(&["merge", "--format", "jsonl", option, s(&f.file(1)), s(&f.folder)]);
        assert_eq!(merged.status.code(), Some(2), "{option}: {}", stderr(&merged));
        let after = std::fs::read(f.file(1)).unwrap();
        assert!(
            after == before,
            "{option}: the shard file was overwritten: it now starts {:?}",
            &String::from_utf8_lossy(&after)[..60]
        );
    }
}

/// Hostile shard files: numbers past any run, nesting past any record,
/// lines past the limit, names and records holding terminal escapes.
/// Exit 2, every other shard's findings kept, stderr escaped.
#[test]
fn hostile_shard_files_are_errors_escaped_and_spoil_no_other_shard() {
    let f = failing("hostile");
    let b = busiest(&f);
    let lines = f.lines(b);
    let others: Vec<u64> = (0..3).filter(|&i| i != b).collect();
    let begin = lines.iter().position(|l| l.starts_with("{\"begin\"")).unwrap();
    let with = |n: usize, line: &str| {
        let mut v = lines.clone();
        v[n] = line.to_string();
        v.iter().map(|l| format!("{l}\n")).collect::<String>()
    };
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_begin = lines[begin].replacen("{\"index\"", &format!("{{\"junk\":{nested},\"index\""), 1);
    let deep_header = lines[0].replacen("\"config\":{", &format!("\"config\":{{\"junk\":{nested},"), 1);
    let escapes = "\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{9b}31m";
    let index = regex::Regex::new(r#""index":[0-9]+"#).unwrap();
    let cases = [
        ("an index past u64", with(begin, &index.replace(&lines[begin], "\"index\":1844674407370955161500"))),
        ("the largest index", with(begin, &index.replace(&lines[begin], "\"index\":18446744073709551615"))),
        ("a record nesting 100000 deep", with(begin, &deep_begin)),
        ("a header nesting 100000 deep", with(0, &deep_header)),
        ("a record named with escapes", with(begin + 1, &format!("{{\"{escapes}\":{{}}}}"))),
        (
            "a capture named with escapes",
            with(begin, &format!("{{\"begin\":{{\"index\":0,\"capture\":{}}}}}", Value::from(escapes))),
        ),
    ];
    for (what, text) in cases {
        let p = f.replaced(&format!("hostile{escapes}"), &text);
        let mut files: Vec<PathBuf> = others.iter().map(|&i| f.file(i)).collect();
        files.push(p);
        let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        let merged = f.merge_keeps(&refs, &others, what);
        let err = stderr(&merged);
        for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
            assert!(!err.contains(c), "{what}: stderr holds {c:?} raw: {err:?}");
        }
        // The text report escapes them too.
        let mut args = vec!["merge"];
        args.extend(files.iter().map(|p| s(p)));
        let text = run(&args);
        assert!(!String::from_utf8_lossy(&text.stdout).contains('\u{1b}'), "{what}: text report holds ESC");
    }
    // A line longer than any record (64 MiB): an error, not a stall.
    let mut long = lines[..begin + 1].iter().map(|l| format!("{l}\n")).collect::<String>();
    long.push_str("{\"finding\":\"");
    long.push_str(&"A".repeat((64 << 20) + 16));
    long.push_str("\"}\n");
    let p = f.replaced("long", &long);
    drop(long);
    let mut files: Vec<PathBuf> = others.iter().map(|&i| f.file(i)).collect();
    files.push(p);
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let merged = f.merge_keeps(&refs, &others, "a 64 MiB line");
    assert!(stderr(&merged).contains("longer than"), "{}", stderr(&merged));
    // A header claiming a shard count no scan could have run: refused.
    let h = regex::Regex::new(r#""count":[0-9]+"#).unwrap().replace(&lines[0], "\"count\":18446744073709551615");
    let p = f.replaced("count", &format!("{h}\n"));
    let merged = run(&["merge", "--format", "jsonl", s(&p)]);
    assert_eq!(merged.status.code(), Some(2), "{}", stderr(&merged));
}

/// Names read back from shard files (protocols, TLS versions and suites,
/// capture tools, roles) are interned for the whole process, at most
/// `interned::MAX` of them (src/finding.rs). One hostile shard file that
/// names that many spends the budget of every shard: the other shards'
/// records, read after, no longer parse, and all their findings are lost.
#[test]
fn a_shard_naming_thousands_of_protocols_spoils_no_other_shard() {
    let f = failing("interned");
    // The shard of the run's first capture: its records are read first.
    let b = f.owners[0].1;
    let lines = f.lines(b);
    let at = lines.iter().position(|l| l.starts_with("{\"finding\"")).expect("a finding");
    let mut finding: Value = serde_json::from_str(&lines[at]).unwrap();
    let mut text: String = lines[..at].iter().map(|l| format!("{l}\n")).collect();
    for k in 0..5000 {
        finding["finding"]["protocol"] = Value::from(format!("x-proto/{k}"));
        text.push_str(&format!("{finding}\n"));
    }
    text.extend(lines[at..].iter().map(|l| format!("{l}\n")));
    let hostile = f.replaced("many-protocols", &text);
    let others: Vec<u64> = (0..3).filter(|&i| i != b).collect();
    let mut files: Vec<PathBuf> = others.iter().map(|&i| f.file(i)).collect();
    files.push(hostile);
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    f.merge_keeps(&refs, &others, "a shard naming 5000 protocols");
}

/// A Slurm array or an Indexed Job of many tasks gives merge as many
/// shard files. Merge keeps every one open while it reads them in the
/// run's order, so a run of more shards than the open-file limit (1024
/// on most Linux systems, 256 on macOS) loses the shards it could not
/// open, and calls them missing. Shown here with 100 shards under a
/// limit of 64.
#[test]
fn more_shard_files_than_the_open_file_limit_all_merge() {
    let dir = tmpdir("fds");
    let root = generated(&dir);
    let folder = shards(&dir, "n100", 100, &[], &[s(&root)]);
    let single = run(&["scan", "--format", "jsonl", "--show-values", s(&root)]);
    let script = "ulimit -n 64 && exec \"$0\" merge --format jsonl --show-values \"$1\"";
    let merged =
        Command::new("sh").args(["-c", script, env!("CARGO_BIN_EXE_teleaudit"), s(&folder)]).output().expect("sh");
    assert_same_run(&single, &merged, "100 shard files, at most 64 open");
}

/// The recipes write task I's file as `OUT/shard-I.jsonl`, in a folder
/// that outlives the run (examples/slurm: `OUT=teleaudit-out` by default).
/// A task of today's run is killed, so its file is last week's, scanned
/// when a capture of that shard held other traffic under the same name.
/// The headers are equal (same tool, rules, options and names), so merge
/// takes last week's findings for today's without a word. It must notice
/// (the captures' sizes and times, or a run id, in the header) and report
/// that shard as not of this run, exit 2; or else write today's report.
#[test]
fn a_stale_shard_file_of_an_earlier_run_over_the_same_names_is_not_taken_as_this_runs() {
    let dir = tmpdir("stale");
    let root = dir.join("captures");
    for c in 0..6u32 {
        write(&root.join(format!("cap-{c}.pcap")), &support::pcap(&capture(c), Link::Ethernet, false, false));
    }
    let folder = shards(&dir, "out", 3, &[], &[s(&root)]);
    let owners = owners(&shard_file(&folder, 0));
    // Today cap-0 holds other traffic; its shard's task is killed and
    // leaves last week's file in place.
    let (name, b) = owners.iter().find(|(n, _)| n.ends_with("cap-0.pcap")).cloned().unwrap();
    write(Path::new(&name), &support::pcap(&capture(40), Link::Ethernet, false, false));
    for i in (0..3).filter(|&i| i != b) {
        let o = run(&[
            "scan",
            "--format",
            "shard",
            "--shard",
            &format!("{i}/3"),
            "-o",
            s(&shard_file(&folder, i)),
            s(&root),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let single = run(&["scan", "--format", "jsonl", "--show-values", s(&root)]);
    let merged = run(&["merge", "--format", "jsonl", "--show-values", s(&folder)]);
    if merged.status.code() != Some(2) {
        assert_same_report(&single.stdout, &merged.stdout, "a stale shard file of an earlier run");
    }
}
