//! The HTML report (issue 16): rendered by a real browser (headless
//! Chromium, when installed; CI installs it and fails without it) with no
//! console error, the leak count it shows equal to the distinct leaks of
//! the JSON Lines and of the text report, a screenshot saved under
//! `target/`; and text from a hostile capture escaped, values masked.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{Net, ts, wiko};

const FIXTURE: &str = "fixtures/wiko-sts.pcap";
const CHROMIUM: &str = "chromium";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).current_dir(root()).args(args).output().expect("run teleaudit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-html-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes the HTML report of `capture` to `out`.
fn html_report(capture: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["scan", "--format", "html", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(capture);
    let o = run(&args);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).expect("report written")
}

/// The `data-leaks` count of the page (or of its DOM after scripts ran).
fn shown_leak_count(page: &str) -> usize {
    let at = page.find("id=\"leak-count\"").expect("leak count element");
    let rest = &page[at..];
    let v = rest.split("data-leaks=\"").nth(1).expect("data-leaks").split('"').next().unwrap();
    v.parse().expect("a number")
}

/// Distinct leaks recomputed from JSON Lines the way `report::leaks`
/// folds findings: same destination, method, path without query,
/// location, field, rule, kind, encoding and severity, whatever the
/// value.
fn jsonl_leaks(capture: &str) -> usize {
    let o = run(&["scan", "--format", "jsonl", "--show-values", capture]);
    let mut keys = HashSet::new();
    for line in stdout(&o).lines() {
        let v: Value = serde_json::from_str(line).expect("json line");
        if v["type"] != "finding" {
            continue;
        }
        let kind = v["kind"].as_str().unwrap().to_string();
        let host = match v["host"].as_str() {
            Some(h) => h.to_string(),
            None => v["dst"].as_str().unwrap().parse::<std::net::SocketAddr>().unwrap().ip().to_string(),
        };
        let path = v["uri"].as_str().map(|u| u.split('?').next().unwrap().to_string());
        keys.insert((
            v["capture"].to_string(),
            host,
            v["method"].to_string(),
            path,
            v["location"].to_string(),
            v["field"].to_string(),
            v["rule"].to_string(),
            kind,
            v["encoding"].to_string(),
            v["severity"].to_string(),
        ));
    }
    keys.len()
}

/// `N leaks` of the text report's capture header.
fn text_leaks(capture: &str) -> usize {
    let text = stdout(&run(&["scan", capture]));
    let head = text.lines().find(|l| l.contains(" leaks to ") || l.contains(" leak to ")).expect("header");
    let words: Vec<&str> = head.split_whitespace().collect();
    let at = words.iter().position(|w| w.starts_with("leak")).expect("leaks");
    words[at - 1].parse().unwrap()
}

/// Chromium, or `None` (a skip outside CI; a failure in CI).
fn chromium() -> Option<&'static str> {
    let found = Command::new(CHROMIUM).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "CI is set but chromium is missing (.ci/run installs it)");
        support::skip(format_args!("chromium not found: the HTML report was not rendered in a browser"));
        return None;
    }
    Some(CHROMIUM)
}

/// Runs headless Chromium on `page` with `args`: (stdout, stderr).
fn render(browser: &str, page: &Path, args: &[&str]) -> (String, String) {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let profile = tmpdir("chromium-profile");
    // Under coreutils' `timeout`: a browser that hangs fails the test
    // instead of stalling CI.
    let o = Command::new("timeout")
        .args(["300", browser])
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Lines where Chromium logged a page's console message or an uncaught
/// exception.
fn console_errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect()
}

#[test]
fn fixture_report_renders_in_chromium_with_the_leaks_of_json_lines() {
    let target = root().join("target");
    let page = target.join("html-report.html");
    let html = html_report(FIXTURE, &page, &[]);
    let expected = jsonl_leaks(FIXTURE);
    assert!(expected > 0);
    assert_eq!(expected, text_leaks(FIXTURE), "JSON Lines and the text report disagree");
    assert_eq!(shown_leak_count(&html), expected);
    assert_eq!(html.matches("<tr class=\"leak\">").count(), expected, "one table row per leak");
    // Self-contained: nothing fetched.
    for needle in ["src=\"http", "href=\"http", "@import", "<link"] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    assert!(!html.contains(wiko::IMEI1), "an IMEI unmasked");

    let Some(browser) = chromium() else { return };
    let (dom, stderr) = render(browser, &page, &["--dump-dom"]);
    assert_eq!(console_errors(&stderr), Vec::<&str>::new(), "console errors:\n{stderr}");
    assert_eq!(shown_leak_count(&dom), expected, "the rendered page's count");
    assert!(dom.contains("<svg") && dom.contains("id=\"timeline\""), "timeline drawn");
    assert_eq!(dom.matches("<tr class=\"leak\">").count(), expected);

    let shot = target.join("html-report.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let (_, stderr) = render(browser, &page, &[&arg, "--window-size=1280,2000"]);
    assert_eq!(console_errors(&stderr), Vec::<&str>::new(), "console errors:\n{stderr}");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "screenshot {} is {size} bytes", shot.display());
}

/// An HTTP upload of an IMEI to a host whose name is markup.
fn hostile_host_capture() -> Vec<u8> {
    let mut n = Net::default();
    let host = "<script>alert(1)</script>.example";
    let req = format!(
        "GET /r?imei={}&x=%3Cscript%3Ealert(2)%3C/script%3E HTTP/1.1\r\nHost: {host}\r\nUser-Agent: \"><b onmouseover=alert(3)>\r\n\r\n",
        wiko::IMEI1
    );
    n.http(ts(1_700_000_000, 0), "10.0.0.5:50000", "198.51.100.9:80", req.as_bytes(), b"HTTP/1.1 200 OK\r\n\r\n", 7);
    support::pcap(&n, support::Link::Ethernet, false, false)
}

#[test]
fn capture_text_is_escaped_and_values_masked() {
    let dir = tmpdir("hostile");
    // A file name cannot hold `/`: markup without one.
    let cap = dir.join("<img src=x onerror=alert(4)>.pcap");
    std::fs::write(&cap, hostile_host_capture()).unwrap();
    let cap = cap.to_str().unwrap().to_string();
    let page = html_report(&cap, &dir.join("r.html"), &[]);
    assert_eq!(shown_leak_count(&page), jsonl_leaks(&cap));
    assert!(shown_leak_count(&page) >= 1, "the IMEI is found");
    assert!(!page.contains("<script>alert"), "unescaped markup from the capture");
    assert!(!page.contains("<img"), "unescaped markup from the capture");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"), "the host shown, escaped");
    assert!(page.contains("&lt;img src=x onerror=alert(4)&gt;.pcap"), "the capture name shown, escaped");
    assert!(!page.contains(wiko::IMEI1), "the IMEI unmasked");
    // The page's own script is the only one.
    assert_eq!(page.matches("<script>").count(), 1);

    let shown = html_report(&cap, &dir.join("shown.html"), &["--show-values"]);
    assert!(shown.contains(wiko::IMEI1), "--show-values shows it");
    assert!(!shown.contains("<script>alert"));
}
