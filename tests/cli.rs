//! End-to-end tests of the `teleaudit` binary, in one test binary. The
//! captures are written by `support` (a capture writer), never copied.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{Link, Net, wiko};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_teleaudit"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run teleaudit")
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == t).collect()
}

/// The facts a finding must keep whatever the container or link layer.
fn facts(lines: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = of_type(lines, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {} {} {}",
                f["rule"],
                f["kind"],
                f["value"],
                f["field"],
                f["frame"],
                f["src"],
                f["dst"],
                f["host"]
            )
        })
        .collect();
    v.sort();
    v
}

const FIXTURE: &str = "fixtures/wiko-sts.pcap";

/// The bundled fixture is exactly what the scenario code writes. Set
/// TELEAUDIT_WRITE_FIXTURES=1 to rewrite it after changing the scenario.
#[test]
fn fixture_is_reproducible() {
    let bytes = support::pcap(&wiko::build(), Link::Ethernet, false, false);
    let path = root().join(FIXTURE);
    if std::env::var_os("TELEAUDIT_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &bytes).expect("write fixture");
    }
    let committed = std::fs::read(&path).expect("fixture exists");
    assert!(
        committed == bytes,
        "{FIXTURE} differs from tests/support/wiko.rs; rerun with TELEAUDIT_WRITE_FIXTURES=1"
    );
}
