//! Shell completions and manual pages, generated from the argument
//! definitions.

use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_teleaudit"))
}

#[test]
fn completions_name_every_command_and_parse_in_bash() {
    let out = bin().args(["completions", "bash"]).output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let script = String::from_utf8(out.stdout).expect("text");
    for word in ["scan", "requests", "diff", "show", "rules", "--show-values", "--keylog"] {
        assert!(script.contains(word), "{word} missing");
    }
    // bash itself reads it without a syntax error (when bash is here).
    if let Ok(check) = Command::new("bash").args(["-n", "-c", &script]).output() {
        assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = bin().args(["completions", shell]).output().expect("run");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(!out.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn completions_to_a_closed_pipe_do_not_panic() {
    let mut child =
        bin().args(["completions", "zsh"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 2), "{:?}", out.status);
}

#[test]
fn man_pages_are_written_for_every_command() {
    let dir = std::env::temp_dir().join(format!("teleaudit-test-{}-man", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = bin().args(["man", "--out", dir.to_str().unwrap()]).output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    for page in ["teleaudit.1", "teleaudit-scan.1", "teleaudit-show.1", "teleaudit-diff.1", "teleaudit-rules-check.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page} is not roff");
    }
    let scan = std::fs::read_to_string(dir.join("teleaudit-scan.1")).unwrap();
    assert!(scan.contains("show\\-values") || scan.contains("show-values"), "the scan page lists its options");
    let _ = std::fs::remove_dir_all(&dir);
}
