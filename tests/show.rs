//! `teleaudit show CAPTURE FRAME`: one request whole, its findings, values
//! masked unless asked.

use std::process::{Command, Output};

use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts.pcap");
const IMEI: &str = "356938035643809";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

fn findings_at(frame: u64) -> Vec<Value> {
    let out = run(&["scan", "--format", "jsonl", "--show-values", FIXTURE]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|v| v["type"] == "finding" && v["frame"] == frame)
        .collect()
}

/// The JSON upload of frame 142 (decrypted with the key log beside the
/// fixture): request line, headers, the body pretty-printed, its four
/// findings with their decoding chain; the IMEI masked everywhere.
#[test]
fn a_request_is_shown_whole_with_its_findings_masked() {
    let out = run(&["show", FIXTURE, "142"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("POST /v1/device/report HTTP/1.1"), "{text}");
    assert!(text.contains("Content-Type: application/json"), "{text}");
    assert!(text.contains("TLS 1.2"), "{text}");
    // Pretty-printed: the nested object on lines of its own.
    assert!(text.lines().any(|l| l.trim() == "\"device\": {"), "{text}");
    assert!(text.contains("4 findings"), "{text}");
    assert!(text.contains("$.device.imei [json]"), "{text}");
    assert!(!text.contains(IMEI), "the IMEI is printed: {text}");
    let shown = run(&["show", "--show-values", FIXTURE, "142"]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    // In the body and in its finding.
    assert_eq!(shown.matches(IMEI).count(), 2, "{shown}");
}

/// The JSON form lists the same findings as the scan at that frame.
#[test]
fn the_json_form_has_the_findings_of_the_scan() {
    let out = run(&["show", "--format", "json", "--show-values", FIXTURE, "58"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let reqs = v["requests"].as_array().expect("requests");
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r["method"], "GET");
    assert!(r["target"].as_str().unwrap().starts_with("/eservice/stsReport"));
    let got: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> = findings_at(58)
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

/// A frame where no request starts is an error that names the frames
/// with findings nearest to it.
#[test]
fn a_frame_without_a_request_says_where_to_look() {
    let out = run(&["show", FIXTURE, "2"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no HTTP request starts in frame 2"), "{err}");
    assert!(err.contains("frames with findings near it: 6"), "{err}");
    assert!(out.stdout.is_empty());
    let out = run(&["show", "/nonexistent/capture.pcap", "1"]);
    assert_eq!(out.status.code(), Some(2));
}
