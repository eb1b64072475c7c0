//! Exit codes that cannot pass by accident, rule and profile checking,
//! and the colour decision, end to end through the binary: a run that
//! reads no capture, has no rules, or has a profile no rule can report
//! is exit 2 with a message; `rules check` reports every problem of
//! every file and accepts the built-in `rules/` folder; `--color` and
//! `NO_COLOR`, `TERM=dumb`, `CLICOLOR_FORCE` decide colour.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = "fixtures/wiko-sts.pcap";
const ESC: u8 = 0x1b;

/// The binary, with none of the variables these tests are about.
fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_teleaudit"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in ["SSLKEYLOGFILE", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"] {
        c.env_remove(v);
    }
    c
}

fn run(args: &[&str]) -> Output {
    cmd(args).output().expect("run teleaudit")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-exit_codes-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn fixture_in(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &p).expect("copy fixture");
    p
}

#[test]
fn an_empty_folder_is_exit_2_with_a_message_and_no_report() {
    let dir = tmpdir("empty");
    for sub in [&["scan"][..], &["scan", "--format", "jsonl"], &["requests"]] {
        let mut args = sub.to_vec();
        args.push(s(&dir));
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("no capture read from {}: no files there", dir.display())), "{err}");
        assert!(out.stdout.is_empty(), "no report of nothing: {}", stdout(&out));
    }
    // -o: no file is made either.
    let report = dir.with_extension("jsonl");
    let out = run(&["scan", "--format", "jsonl", "-o", s(&report), s(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!report.exists());
}

#[test]
fn a_wrong_path_is_exit_2_naming_it() {
    let out = run(&["scan", "--format", "jsonl", "captures/nope.pcap"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("captures/nope.pcap: no such file or directory"), "{}", stderr(&out));
    // The error is a record of the report too.
    assert!(stdout(&out).lines().any(|l| l.contains("\"type\":\"error\"") && l.contains("nope.pcap")));
}

#[test]
fn a_folder_of_other_files_is_exit_2_naming_the_first_few() {
    let dir = tmpdir("others");
    for i in 1..=7 {
        write(&dir, &format!("note{i}.txt"), "not a capture\n");
    }
    let out = run(&["scan", s(&dir)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let first = dir.join("note1.txt");
    assert!(err.contains("7 files there are not captures ("), "{err}");
    assert!(err.contains(&first.display().to_string()) && err.contains(" and 2 more)"), "{err}");
    assert!(!err.contains("note6.txt"), "only the first five are named: {err}");
}

#[test]
fn files_skipped_as_not_captures_are_named_in_the_text_summary() {
    let dir = tmpdir("mixed");
    fixture_in(&dir, "a.pcap");
    write(&dir, "b-notes.md", "notes\n");
    write(&dir, "c-list.txt", "list\n");
    let out = run(&["scan", s(&dir)]);
    assert_eq!(out.status.code(), Some(1), "the capture is scanned: {}", stderr(&out));
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("skipped as not captures")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(
        line,
        format!(
            "2 files skipped as not captures: {}, {}",
            dir.join("b-notes.md").display(),
            dir.join("c-list.txt").display()
        )
    );
}

/// A folder whose only capture cannot be read: no capture is read, but
/// the run met an error, which is a record of the report (not the early
/// "no capture read" exit). (hostile_output covers a locked file beside
/// a readable one.)
#[cfg(unix)]
#[test]
fn a_folder_whose_only_capture_cannot_be_read_reports_the_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmpdir("locked");
    let locked = fixture_in(&dir, "locked.pcap");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::read(&locked).is_ok() {
        eprintln!("skipped: this user reads files whatever their mode (root)");
        return;
    }
    let out = run(&["scan", "--format", "jsonl", s(&dir)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.contains("\"type\":\"error\"") && l.contains("locked.pcap")), "{text}");
}

#[test]
fn no_default_rules_without_rules_is_an_error() {
    let out = run(&["scan", "--no-default-rules", FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-default-rules needs --rules PATH"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // Nor may --rules bring no rule at all.
    let dir = tmpdir("no-rules");
    let out = run(&["scan", "--no-default-rules", "--rules", s(&dir), FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no rules loaded from"), "{}", stderr(&out));
    let out = run(&["diff", "--no-default-rules", FIXTURE, FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "diff too: {}", stderr(&out));
}

#[test]
fn a_profile_no_rule_can_report_is_an_error() {
    let dir = tmpdir("profile-unreported");
    let rules = write(
        &dir,
        "lab.toml",
        "[[rule]]\nid = \"LAB-KEY\"\ntitle = \"Lab key\"\nseverity = \"high\"\nkind = \"lab_key\"\npattern = 'LAB-[0-9]{4}'\n",
    );
    let args = ["scan", "--no-default-rules", "--rules", s(&rules), "--profile", "fixtures/wiko-lenny3.toml", FIXTURE];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("fixtures/wiko-lenny3.toml:3:1: no loaded rule reports `imei` values"), "{err}");
    assert!(err.contains("fixtures/wiko-lenny3.toml:4:1: no loaded rule reports `serial` values"), "{err}");
    // With the built-in rules the same profile runs.
    let out = run(&["scan", "--profile", "fixtures/wiko-lenny3.toml", FIXTURE]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn a_profile_typo_names_its_line_and_column_and_the_kind_meant() {
    let dir = tmpdir("profile-typo");
    let p = write(&dir, "p.toml", "name = \"unit 2\"\nimei = \"356938035643809\"\n  imie = \"356938035643817\"\n");
    let out = run(&["scan", "--profile", s(&p), FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:3:3: unknown identifier kind `imie`; did you mean `imei`?", p.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing scanned");
}

/// A rule file with three errors: an unknown detector, an unknown key,
/// a bad regex.
const THREE_ERRORS: &str = r#"[[rule]]
id = "LAB-A"
title = "a"
severity = "high"
detector = "imeii"

[[rule]]
id = "LAB-B"
title = "b"
severity = "high"
detector = "imei"
colour = "red"

[[rule]]
id = "LAB-C"
title = "c"
severity = "high"
kind = "lab"
pattern = "LAB-("
"#;

#[test]
fn rules_check_reports_every_error_of_every_file() {
    let dir = tmpdir("rules-check");
    let bad = write(&dir, "bad.toml", THREE_ERRORS);
    let out = run(&["rules", "check", s(&bad)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let b = bad.display().to_string();
    assert_eq!(lines.len(), 4, "three errors and a count: {err}");
    assert!(lines[0].starts_with(&format!("teleaudit: {b}:5:12: unknown detector \"imeii\"")), "{err}");
    assert!(lines[1].starts_with(&format!("teleaudit: {b}:12:1: unknown field `colour`")), "{err}");
    assert!(lines[2].starts_with(&format!("teleaudit: {b}:19:11: bad pattern")), "{err}");
    assert_eq!(lines[3], "teleaudit: 3 problems found");
    // Two files: the errors of both.
    let other = write(
        &dir,
        "other.toml",
        "[[rule]]\nid = \"LAB-D\"\ntitle = \"d\"\nseverity = \"urgent\"\ndetector = \"imei\"\n",
    );
    let out = run(&["rules", "check", s(&bad), s(&other)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains(&format!("{}:4:12: unknown variant `urgent`", other.display())), "{err}");
    assert!(err.ends_with("teleaudit: 4 problems found\n"), "{err}");
    // A folder: the same, file by file.
    let out = run(&["rules", "check", s(&dir)]);
    assert!(stderr(&out).ends_with("teleaudit: 4 problems found\n"), "{}", stderr(&out));
}

#[test]
fn rules_check_accepts_the_builtin_rules_folder() {
    let list = run(&["rules", "list"]);
    let builtin = stdout(&list).lines().count();
    for args in [&["rules", "check", "rules"][..], &["rules", "check", "--no-default-rules", "rules"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("rules/keys.toml: key dictionary OK"), "{text}");
        assert!(text.contains("rules/oui.txt: vendor OUI list OK"), "{text}");
        assert!(text.contains(&format!("{builtin} rules OK")), "{text}");
    }
    // A file of one's own is still checked against the built-in ids.
    let dir = tmpdir("dup");
    let dup = write(
        &dir,
        "mine.toml",
        "[[rule]]\nid = \"TA-IMEI\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imei\"\n",
    );
    let out = run(&["rules", "check", s(&dup)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("duplicate rule id \"TA-IMEI\""), "{}", stderr(&out));
    let out = run(&["rules", "check", "--no-default-rules", s(&dup)]);
    assert_eq!(out.status.code(), Some(0), "alone it is fine: {}", stderr(&out));
    // --no-default-rules needs something to check.
    let out = run(&["rules", "check", "--no-default-rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-default-rules needs a PATH"), "{}", stderr(&out));
}

/// The text report of the fixture with `args` and `env`, on a pipe.
fn colour_run(args: &[&str], env: &[(&str, &str)]) -> Vec<u8> {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    all.push(FIXTURE);
    let mut c = cmd(&all);
    c.envs(env.iter().copied());
    let out = c.output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    out.stdout
}

#[test]
fn color_always_never_and_auto_on_a_pipe() {
    assert!(colour_run(&["--color", "always"], &[]).contains(&ESC));
    assert!(
        colour_run(&["--color", "always"], &[("NO_COLOR", "1"), ("TERM", "dumb")]).contains(&ESC),
        "always is always"
    );
    assert!(!colour_run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains(&ESC));
    assert!(!colour_run(&[], &[]).contains(&ESC), "auto on a pipe");
    assert!(!colour_run(&["--color", "auto"], &[("TERM", "dumb")]).contains(&ESC));
    assert!(colour_run(&[], &[("CLICOLOR_FORCE", "1")]).contains(&ESC), "CLICOLOR_FORCE colours a pipe");
    assert!(!colour_run(&[], &[("CLICOLOR_FORCE", "0")]).contains(&ESC));
    assert!(!colour_run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(&ESC), "NO_COLOR wins");
    assert!(!colour_run(&["--color", "always", "--format", "jsonl"], &[]).contains(&ESC), "never in JSON Lines");
}

/// `--color auto` on a real terminal (a pseudo-terminal made by
/// `script`): coloured, except with `TERM=dumb` or `NO_COLOR`.
#[cfg(target_os = "linux")]
#[test]
fn color_auto_on_a_terminal_honours_term_dumb_and_no_color() {
    let on_tty = |env: &[(&str, &str)]| -> Option<Vec<u8>> {
        // stderr off the terminal: no progress line (which moves the
        // cursor with ESC sequences of its own).
        let line = format!("{} scan --color auto {FIXTURE} 2>/dev/null", env!("CARGO_BIN_EXE_teleaudit"));
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"]).current_dir(env!("CARGO_MANIFEST_DIR"));
        for v in ["SSLKEYLOGFILE", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"] {
            c.env_remove(v);
        }
        c.env("TERM", "xterm");
        c.envs(env.iter().copied());
        c.output().ok().filter(|o| o.status.code().is_some()).map(|o| o.stdout)
    };
    let Some(plain) = on_tty(&[]) else {
        eprintln!("skipped: no `script` to make a terminal");
        return;
    };
    if !plain.windows(5).any(|w| w == b"TA-IM" || w == b"imei ") {
        eprintln!("skipped: `script` did not run the report on a terminal here");
        return;
    }
    assert!(plain.contains(&ESC), "{}", String::from_utf8_lossy(&plain));
    let dumb = on_tty(&[("TERM", "dumb")]).expect("script runs");
    assert!(dumb.windows(5).any(|w| w == b"imei "), "{}", String::from_utf8_lossy(&dumb));
    assert!(!dumb.contains(&ESC), "{}", String::from_utf8_lossy(&dumb));
    let no_color = on_tty(&[("NO_COLOR", "1")]).expect("script runs");
    assert!(!no_color.contains(&ESC), "{}", String::from_utf8_lossy(&no_color));
}
