//! Inputs that are not what they seem and outputs that would destroy
//! inputs, end to end through the binary: unreadable files in folders,
//! FIFOs, sockets and devices, gzip files that hold no capture, file
//! names with control characters, `-o` / `--write-baseline` naming an
//! input, and identifier values in names a report prints.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::hostile_output::{IMEI, imei_in_host_and_key};

const FIXTURE: &str = "fixtures/wiko-sts.pcap";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(args)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .expect("run teleaudit")
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-hostile_output-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The fixture copied into `dir` as `name`.
fn fixture_in(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &p).expect("copy fixture");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[cfg(unix)]
#[test]
fn unreadable_file_in_a_folder_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmpdir("unreadable");
    fixture_in(&dir, "a.pcap");
    let locked = fixture_in(&dir, "locked.pcap");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::read(&locked).is_ok() {
        support::skip(format_args!("skipped: this user reads files whatever their mode (root)"));
        return;
    }
    let out = run(&["scan", "--format", "jsonl", s(&dir)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = json_lines(&out);
    let errors: Vec<_> = lines.iter().filter(|v| v["type"] == "error").collect();
    assert_eq!(errors.len(), 1, "{lines:?}");
    assert!(errors[0]["capture"].as_str().is_some_and(|c| c.ends_with("locked.pcap")));
    assert!(errors[0]["message"].as_str().is_some_and(|m| m.contains("ermission denied")), "{:?}", errors[0]);
    let summary = lines.iter().find(|v| v["type"] == "summary").expect("summary");
    assert_eq!(summary["not_captures_skipped"], 0, "not counted as 'not a capture'");
    assert!(lines.iter().any(|v| v["type"] == "finding"), "the readable capture is still scanned");
}

#[cfg(unix)]
fn mkfifo(p: &Path) -> bool {
    Command::new("mkfifo").arg(p).status().is_ok_and(|s| s.success())
}

#[cfg(unix)]
#[test]
fn a_fifo_on_the_command_line_is_read_and_in_a_folder_is_skipped_with_a_word() {
    let dir = tmpdir("fifo");
    let fifo = dir.join("live.pcap");
    if !mkfifo(&fifo) {
        support::skip(format_args!("skipped: no mkfifo"));
        return;
    }
    fixture_in(&dir, "a.pcap");
    // In a folder: never opened (it would block), said and counted.
    let out = run(&["scan", "--format", "jsonl", s(&dir)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("live.pcap: is a FIFO: skipped"), "{err}");
    let lines = json_lines(&out);
    let summary = lines.iter().find(|v| v["type"] == "summary").expect("summary");
    assert_eq!(summary["not_captures_skipped"], 1);
    assert_eq!(summary["errors"], 0);
    // Named: read as a stream, as tcpdump -w writes it.
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("fixture");
    let writer = fifo.clone();
    // Not joined: if teleaudit never opened the FIFO, the writer blocks
    // and the assertions below fail instead.
    std::thread::spawn(move || std::fs::write(writer, bytes));
    let out = run(&["scan", "--format", "jsonl", s(&fifo)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(json_lines(&out).iter().any(|v| v["type"] == "finding" && v["rule"] == "TA-EP-TINNO-STS"));
}

#[cfg(unix)]
#[test]
fn sockets_devices_and_broken_links_say_what_they_are() {
    let dir = tmpdir("special");
    let sock = dir.join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind socket");
    let broken = dir.join("gone.pcap");
    std::os::unix::fs::symlink(dir.join("nowhere.pcap"), &broken).expect("symlink");
    let out = run(&["scan", s(&sock), "/dev/null", s(&broken)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(err.contains("s.sock: is a socket: not a capture file"), "{err}");
    assert!(err.contains("/dev/null: is a character device: not a capture file"), "{err}");
    assert!(err.contains("gone.pcap: broken symbolic link (to "), "{err}");
    assert!(!err.contains("no such file or directory"), "{err}");
    // In a folder, a broken link is skipped with a warning, not an error.
    fixture_in(&dir, "a.pcap");
    let out = run(&["scan", "--format", "jsonl", s(&dir)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("gone.pcap: broken symbolic link"));
    assert!(stderr(&out).contains("s.sock: is a socket: skipped"));
}

#[test]
fn gzip_that_holds_no_capture_says_gzip() {
    use std::io::Write;
    let dir = tmpdir("gzip");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"just some text, not a capture\n").expect("gzip");
    let gz = gz.finish().expect("gzip");
    let text = dir.join("notes.txt.gz");
    std::fs::write(&text, &gz).expect("write");
    let mut cap = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    cap.write_all(&std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).expect("fixture")).expect("gzip");
    let cap = cap.finish().expect("gzip");
    let truncated = dir.join("cut.pcap.gz");
    std::fs::write(&truncated, &cap[..cap.len() / 2]).expect("write");
    let out = run(&["scan", s(&text), s(&truncated)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(
            "notes.txt.gz: gzip-compressed, but the content is not a pcap or pcapng capture (starts with 6a757374)"
        ),
        "{err}"
    );
    assert!(err.contains("cut.pcap.gz: frame ") && err.contains("gzip-compressed data truncated"), "{err}");
}

#[test]
fn file_name_with_newline_and_escape_stays_one_escaped_line() {
    let dir = tmpdir("names");
    let bad = dir.join("bad\nname\x1b[2J.pcap");
    std::fs::write(&bad, b"not a capture at all").expect("write");
    let out = run(&["scan", s(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("bad\\nname\\x1b[2J.pcap: not a capture file"), "{err:?}");
    assert!(!err.contains('\x1b'));
}

/// Runs and checks the refusal: exit 2, one message naming the option,
/// nothing on stdout, the input's bytes as they were, no file left over.
fn assert_refused(args: &[&str], option: &str, input: &Path, dir: &Path) {
    let before = std::fs::read(input).expect("read input");
    let listing = names(dir);
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("{option} ")) && err.contains("refusing"), "{err}");
    assert!(out.stdout.is_empty(), "nothing scanned");
    assert_eq!(std::fs::read(input).expect("read input"), before, "{args:?} changed the input");
    assert_eq!(names(dir), listing, "no temporary file left");
}

#[test]
fn output_naming_an_input_is_refused_and_the_input_kept() {
    let dir = tmpdir("o-input");
    let cap = fixture_in(&dir, "cap.pcap");
    let other = dir.join("..").join(dir.file_name().expect("name")).join("cap.pcap");
    assert_refused(&["scan", s(&cap), "-o", s(&cap)], "-o", &cap, &dir);
    assert_refused(&["scan", s(&cap), "-o", s(&other)], "-o", &cap, &dir);
    // An input found inside a scanned folder.
    assert_refused(&["scan", s(&dir), "-o", s(&other)], "-o", &cap, &dir);
    assert_refused(&["requests", s(&dir), "-o", s(&cap)], "-o", &cap, &dir);
    #[cfg(unix)]
    {
        let hard = tmpdir("o-input-link").join("hard.pcap");
        std::fs::hard_link(&cap, &hard).expect("hard link");
        assert_refused(&["scan", s(&cap), "-o", s(&hard)], "-o", &cap, &dir);
    }
    // A key log and a baseline the run reads.
    let keys = dir.join("k.keys");
    std::fs::write(&keys, format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48))).expect("write");
    assert_refused(&["scan", s(&cap), "--keylog", s(&keys), "-o", s(&keys)], "-o", &keys, &dir);
    let base = dir.join("base.json");
    std::fs::write(&base, r#"{"teleaudit_baseline": 1, "leaks": []}"#).expect("write");
    assert_refused(&["scan", s(&cap), "--baseline", s(&base), "-o", s(&base)], "-o", &base, &dir);
}

#[test]
fn write_baseline_naming_an_input_is_refused_and_the_input_kept() {
    let dir = tmpdir("wb-input");
    let cap = fixture_in(&dir, "cap.pcap");
    assert_refused(&["scan", s(&cap), "--write-baseline", s(&cap)], "--write-baseline", &cap, &dir);
    assert_refused(&["scan", s(&dir), "--write-baseline", s(&dir.join("./cap.pcap"))], "--write-baseline", &cap, &dir);
    let out = dir.join("same.txt");
    let (o, wb) = (s(&out), s(&out));
    let e = run(&["scan", s(&cap), "-o", o, "--write-baseline", wb]);
    assert_eq!(e.status.code(), Some(2));
    assert!(stderr(&e).contains("name the same file"), "{}", stderr(&e));
    assert!(!out.exists());
}

#[test]
fn outputs_replace_the_target_whole_and_a_baseline_may_refresh_itself() {
    let dir = tmpdir("atomic");
    let cap = fixture_in(&dir, "cap.pcap");
    let report = dir.join("report.jsonl");
    std::fs::write(&report, "old report\n").expect("write");
    let base = dir.join("base.json");
    let out = run(&["scan", s(&cap), "--format", "jsonl", "-o", s(&report), "--write-baseline", s(&base)]);
    assert_eq!(out.status.code(), Some(0), "writing a baseline accepts what it found: {}", stderr(&out));
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(!text.contains("old report") && text.lines().last().is_some_and(|l| l.contains("\"summary\"")));
    assert_eq!(names(&dir), ["base.json", "cap.pcap", "report.jsonl"]);
    // --write-baseline over the --baseline it reads: read whole, then
    // replaced whole; every finding is suppressed by the old copy.
    let out = run(&["scan", s(&cap), "--format", "jsonl", "--baseline", s(&base), "--write-baseline", s(&base)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = run(&["scan", s(&cap), "--format", "jsonl", "--baseline", s(&base)]);
    assert_eq!(again.status.code(), Some(0), "the refreshed baseline still holds every leak");
}

#[test]
fn baseline_and_diff_mask_a_value_in_a_host_or_key() {
    let dir = tmpdir("mask");
    let cap = dir.join("imei.pcap");
    std::fs::write(&cap, imei_in_host_and_key()).expect("write");
    let shown = run(&["scan", "--format", "jsonl", "--show-values", s(&cap)]);
    let lines = json_lines(&shown);
    let findings: Vec<_> = lines.iter().filter(|v| v["type"] == "finding").collect();
    assert!(findings.iter().any(|f| f["value"] == IMEI), "the crafted IMEI is found: {lines:?}");
    assert!(
        findings.iter().any(|f| f["host"].as_str().is_some_and(|h| h.contains(IMEI))
            || f["field"].as_str().is_some_and(|h| h.contains(IMEI))),
        "the IMEI is in a host or field path"
    );
    let base = dir.join("base.json");
    let out = run(&["scan", "--format", "jsonl", "--write-baseline", s(&base), s(&cap)]);
    assert_eq!(out.status.code(), Some(0), "writing a baseline accepts what it found: {}", stderr(&out));
    let text = std::fs::read_to_string(&base).expect("baseline");
    assert!(!text.contains(IMEI), "{text}");
    assert!(text.contains("35***********09"), "{text}");
    let old = fixture_in(&dir, "old.pcap");
    let diff = run(&["diff", s(&old), s(&cap)]);
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(text.contains("new leaks") && !text.contains(IMEI), "{text}");
    let diff = run(&["diff", "--show-values", s(&old), s(&cap)]);
    assert!(String::from_utf8_lossy(&diff.stdout).contains(IMEI));
}
