//! `teleaudit show CAPTURE FRAME`: one HTTP request as a researcher
//! needs it to judge a finding: where it went, its request line and
//! headers, its body decoded (JSON pretty-printed), and every finding in
//! it with how it was decoded. Values are masked unless `--show-values`,
//! as everywhere: the request's own findings teach the masker first.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::{DetectionArgs, LimitArgs, fail, jobs};
use crate::finding::{Finding, ShownRequest};
use crate::report::{Privacy, ReportOptions};
use crate::scan::{self, Event, Mode};

#[derive(Args, Debug)]
pub(super) struct ShowArgs {
    /// The capture file.
    capture: PathBuf,
    /// The frame the request starts in (a finding's `frame`).
    frame: u64,
    #[command(flatten)]
    detection: DetectionArgs,
    #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
    format: ShowFormat,
    /// Print identifier values unmasked.
    #[arg(long)]
    show_values: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ShowFormat {
    Text,
    Json,
}

/// Requests starting in one frame kept whole (HTTP/2 streams of one
/// frame, pipelined requests): past it they are counted.
const MAX_SHOWN: usize = 16;
/// Bytes of a body printed (the rest is counted).
const MAX_BODY_SHOWN: usize = 64 << 10;
/// Frames with findings named when the one asked for has no request.
const NEAREST: usize = 5;

pub(super) fn show(a: ShowArgs) -> ExitCode {
    let engine = match a.detection.engine() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let mut cfg = match a.limits.config(engine, Mode::Scan, None) {
        Ok(c) => c,
        Err(code) => return code,
    };
    cfg.show_frame = Some(a.frame);
    let found = scan::discover(std::slice::from_ref(&a.capture));
    if let Some(e) = found.errors.first() {
        return fail(super::error_line(e));
    }
    let [input] = found.inputs.as_slice() else {
        return fail(format_args!("{}: not one capture file", a.capture.display()));
    };
    let (mut shown, mut more, mut findings, mut frames) = (Vec::new(), 0usize, Vec::new(), Vec::new());
    let mut errors = Vec::new();
    scan::run(std::slice::from_ref(input), &cfg, jobs(None), |e| {
        match e {
            Event::Shown(s) if shown.len() < MAX_SHOWN => shown.push(*s),
            Event::Shown(_) => more += 1,
            Event::Finding(f) if f.frame == a.frame => findings.push(f),
            Event::Finding(f) => nearest(&mut frames, a.frame, f.frame),
            Event::End(rep) => errors.extend(rep.errors.iter().map(super::error_line)),
            Event::Begin(_) | Event::Request(_) => {}
        }
        true
    });
    for e in &errors {
        eprintln!("teleaudit: {e}");
    }
    if shown.is_empty() {
        frames.sort_unstable();
        let near: Vec<String> = frames.iter().map(u64::to_string).collect();
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (frames with findings near it: {})", near.join(", "))
        };
        return fail(format_args!("{}: no HTTP request starts in frame {}{hint}", input.display, a.frame));
    }
    let mut p = Privacy::new(ReportOptions { show_values: a.show_values, color: false, details: false });
    for f in &findings {
        p.learn(f);
    }
    let mut out = io::stdout().lock();
    let written = match a.format {
        ShowFormat::Text => text(&mut out, &p, &shown, &findings, more),
        ShowFormat::Json => {
            let v = json!({
                "type": "shown",
                "requests": shown.iter().map(|s| request_json(s, &findings, &p)).collect::<Vec<_>>(),
                "more_requests": more,
            });
            serde_json::to_writer_pretty(&mut out, &v).map_err(io::Error::from).and_then(|()| writeln!(out))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if super::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Keeps the frames with findings closest to `want`, at most [`NEAREST`].
fn nearest(frames: &mut Vec<u64>, want: u64, frame: u64) {
    if frames.contains(&frame) {
        return;
    }
    frames.push(frame);
    if frames.len() > NEAREST {
        frames.sort_unstable_by_key(|f| f.abs_diff(want));
        frames.truncate(NEAREST);
    }
}

/// Does this finding belong to this request (several may start in one
/// frame: HTTP/2 streams)?
fn of<'a>(s: &'a ShownRequest, findings: &'a [Finding]) -> impl Iterator<Item = &'a Finding> {
    findings.iter().filter(move |f| f.src == s.src && f.dst == s.dst && f.stream_id == s.stream_id)
}

/// The body as shown: pretty JSON when it is JSON, else its text; bytes
/// that are not text as a hex dump of their start.
fn body_text(body: &[u8]) -> (String, &'static str) {
    let cut = &body[..body.len().min(MAX_BODY_SHOWN)];
    if let Ok(v) = serde_json::from_slice::<Value>(cut)
        && (v.is_object() || v.is_array())
    {
        return (serde_json::to_string_pretty(&v).unwrap_or_default(), "json");
    }
    match std::str::from_utf8(cut) {
        Ok(t) => (t.to_string(), "text"),
        Err(e) if e.error_len().is_none() && e.valid_up_to() + 4 > cut.len() => {
            (crate::util::lossy(cut).into_owned(), "text")
        }
        Err(_) => {
            let mut hex = String::new();
            for (i, row) in cut.chunks(16).take(32).enumerate() {
                let bytes: Vec<String> = row.iter().map(|b| format!("{b:02x}")).collect();
                hex.push_str(&format!("{:08x}  {}\n", i * 16, bytes.join(" ")));
            }
            (hex, "binary")
        }
    }
}

fn text(out: &mut dyn Write, p: &Privacy, shown: &[ShownRequest], findings: &[Finding], more: usize) -> io::Result<()> {
    for s in shown {
        writeln!(out, "{} frame {} at {}", p.line(&s.capture), s.frame, s.time.rfc3339())?;
        let mut via = vec![s.protocol.to_string()];
        if let Some(t) = &s.tls {
            via.push(format!("TLS {} {}", t.version, t.cipher));
        }
        if let Some(id) = s.stream_id {
            via.push(format!("stream {id}"));
        }
        if let Some(a) = &s.app {
            via.push(format!("app {}", p.line(&a.display())));
        }
        writeln!(out, "{} -> {} ({})", s.src, s.dst, via.join(", "))?;
        writeln!(out)?;
        let version = match s.version {
            Some(v) => format!(" HTTP/1.{v}"),
            None => String::new(),
        };
        writeln!(out, "{} {}{version}", p.line(&s.method), p.line(&s.target))?;
        for (n, v) in &s.headers {
            writeln!(out, "{}: {}", p.line(n), p.line(v))?;
        }
        writeln!(out)?;
        let (body, kind) = body_text(&s.body);
        let codings =
            if s.decoded.is_empty() { String::new() } else { format!(", decoded from {}", s.decoded.join(" > ")) };
        let cut = if s.body.len() > MAX_BODY_SHOWN { format!(", first {MAX_BODY_SHOWN} shown") } else { String::new() };
        writeln!(out, "body: {} bytes, {kind}{codings}{cut}", s.body.len())?;
        for line in body.lines() {
            writeln!(out, "  {}", p.line(line))?;
        }
        for n in &s.notes {
            writeln!(out, "note: {}", p.line(n))?;
        }
        writeln!(out)?;
        let mine: Vec<&Finding> = of(s, findings).collect();
        writeln!(out, "{} findings", mine.len())?;
        for f in mine {
            let field = f.field.as_deref().map(|x| format!(" {}", p.line(x))).unwrap_or_default();
            let chain = if f.encoding.is_empty() { String::new() } else { format!(" [{}]", f.encoding.join(" > ")) };
            let matched = f.matched.as_deref().map(|m| format!(" (profile value {})", p.value(m))).unwrap_or_default();
            writeln!(
                out,
                "  {:<6} {} {}{matched} in {}{field}{chain}, {} confidence, rule {}",
                f.severity.as_str(),
                f.kind,
                p.value(&f.value),
                f.location.as_str(),
                f.confidence.as_str(),
                f.rule
            )?;
            writeln!(out, "         {}", p.line(&f.title))?;
        }
        writeln!(out)?;
    }
    if more > 0 {
        writeln!(out, "and {more} more requests start in this frame")?;
    }
    Ok(())
}

fn request_json(s: &ShownRequest, findings: &[Finding], p: &Privacy) -> Value {
    let (body, kind) = body_text(&s.body);
    let headers: Vec<Value> = s.headers.iter().map(|(n, v)| json!([p.text(n), p.text(v)])).collect();
    json!({
        "capture": p.text(&s.capture),
        "frame": s.frame,
        "time": s.time.rfc3339(),
        "src": s.src.to_string(),
        "dst": s.dst.to_string(),
        "protocol": s.protocol,
        "stream_id": s.stream_id,
        "app": crate::report::jsonl::app_name(s.app.as_deref(), p),
        "tls": crate::report::jsonl::tls_json(s.tls.as_deref(), p),
        "method": p.text(&s.method),
        "target": p.text(&s.target),
        "version": s.version.map(|v| format!("HTTP/1.{v}")),
        "headers": headers,
        "body_bytes": s.body.len(),
        "body_kind": kind,
        "body_decoded": s.decoded,
        "body": p.text(&body),
        "notes": s.notes.iter().map(|n| p.text(n)).collect::<Vec<_>>(),
        "findings": of(s, findings).map(|f| crate::report::jsonl::finding_json(f, p)).collect::<Vec<_>>(),
    })
}
