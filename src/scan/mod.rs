//! scan: drives one capture through the pipeline (capture -> decode ->
//! flow -> http -> extract -> detect) and many captures in parallel.
//!
//! Input: paths and a frozen [`ScanConfig`]. Output: a stream of
//! [`Event`]s per capture (findings and requests as they are made, then
//! the capture's record), handed to the caller capture by capture in
//! command-line order whatever the number of workers. Errors stay with
//! their file; the batch goes on.
//!
//! Order: within a capture, findings come in the order their message was
//! completed (a request when its body ended, a stream payload when it was
//! flushed), which is frame order for most captures, and identical for any
//! `--jobs`. Memory stays bounded: a worker that runs ahead of the capture
//! being reported waits once [`EVENTS_AHEAD`] events are queued.
//!
//! Never: print (reporters do), or let one file's failure stop others.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use crate::app::dns::Names;
use crate::app::tls::keylog::KeyLog;
use crate::app::tls::keys::KeyStore;
use crate::app::{AppConfig, AppLayer, StreamPayload, datagram::Datagram};
use crate::capture::{CaptureReader, FileKind};
use crate::decode::{Decoded, Decoder, Transport, link_name};
use crate::detect::{Engine, RequestCtx};
use crate::extract;
use crate::finding::{
    AppActivity, AppRef, ErrorRecord, FileReport, Finding, HostActivity, Location, MAX_APPS, MAX_HOST_APPS, MAX_HOSTS,
    NotInspected, OTHER_APPS, OTHER_HOSTS, RequestRecord, mask_all,
};
use crate::flow::{FlowLimits, FlowTable};
use crate::http::HttpRequest;

pub mod merge;
pub mod shard;

/// What to produce for each capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Findings.
    Scan,
    /// The rebuilt requests.
    Requests,
}

/// Frozen settings shared by every worker.
pub struct ScanConfig {
    pub engine: Engine,
    pub flow_limits: FlowLimits,
    pub app: AppConfig,
    /// TLS secrets of the run (`--keylog`, `SSLKEYLOGFILE`), shared by
    /// every capture; each capture adds its own (beside it, embedded).
    pub keylog: std::sync::Arc<KeyLog>,
    /// Look for a key log beside each capture file.
    pub keylog_beside: bool,
    pub mode: Mode,
    /// Counters a progress display reads while workers run.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// `--app`: only what these apps sent is reported (globs over the
    /// app's name, label or id, [`AppRef::matches`]); empty: everything.
    pub apps: Vec<String>,
    /// `teleaudit show`: the HTTP requests that start in this frame are
    /// handed out whole ([`Event::Shown`]), before their findings.
    pub show_frame: Option<u64>,
    /// `--all-requests`: in a scan, every HTTP request is also handed out
    /// as a [`RequestRecord`] (before its findings), with or without them.
    pub all_requests: bool,
}

impl ScanConfig {
    /// Default limits, no key log, no progress counters.
    pub fn new(engine: Engine, mode: Mode) -> Self {
        ScanConfig {
            engine,
            flow_limits: FlowLimits::default(),
            app: AppConfig::default(),
            keylog: Default::default(),
            keylog_beside: false,
            mode,
            progress: None,
            apps: Vec::new(),
            show_frame: None,
            all_requests: false,
        }
    }
}

/// Live counters of a run, updated by the workers.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes: std::sync::atomic::AtomicU64,
}

/// Bytes read between two progress updates.
const PROGRESS_STEP: u64 = 4 << 20;

/// A capture to scan: where to read it and how to name it in output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub display: String,
}

/// Does the file start like a capture (pcap, pcapng, or gzip)? A file
/// shorter than a magic number is not one; a file that cannot be opened
/// or read is an error, not "not a capture".
fn sniff_capture(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut m = [0u8; 4];
    let mut f = std::fs::File::open(path)?;
    match f.read_exact(&mut m) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    Ok(m[..2] == [0x1f, 0x8b]
        || matches!(
            u32::from_le_bytes(m),
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1 | 0x0A0D_0D0A
        ))
}

/// What expanding the command line's paths found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Captures to scan, in command-line order, folders in name order.
    pub inputs: Vec<Input>,
    /// Paths that cannot be scanned: errors of the run (exit code 2).
    pub errors: Vec<ErrorRecord>,
    /// Files in folders passed over: not captures, special files (FIFOs,
    /// sockets, devices), broken symbolic links.
    pub skipped: u64,
    /// Why the first special files and broken links in folders were
    /// passed over ([`MAX_DISCOVERY_WARNINGS`]; the rest are counted in
    /// `warnings_omitted`).
    pub warnings: Vec<ErrorRecord>,
    pub warnings_omitted: u64,
    /// Regular files in folders that do not start like a capture: how
    /// many, and the first [`NOT_CAPTURE_NAMES`] of them (for the text
    /// summary and the message when nothing at all was a capture).
    pub not_captures: u64,
    pub not_capture_names: Vec<String>,
}

/// Names of files passed over as not captures that are kept.
pub const NOT_CAPTURE_NAMES: usize = 5;

/// Special files and broken links in folders described one by one; a
/// folder such as `/dev` holds thousands.
pub const MAX_DISCOVERY_WARNINGS: usize = 20;

impl Discovery {
    fn error(&mut self, capture: String, message: String) {
        self.errors.push(ErrorRecord { capture, frame: None, message });
    }

    /// A file in a folder passed over with a reason worth saying.
    fn skip(&mut self, capture: String, message: String) {
        self.skipped += 1;
        if self.warnings.len() < MAX_DISCOVERY_WARNINGS {
            self.warnings.push(ErrorRecord { capture, frame: None, message });
        } else {
            self.warnings_omitted += 1;
        }
    }
}

/// What a file that is neither a regular file nor a folder is, for
/// messages: "a FIFO", "a socket"...
fn special_kind(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        } else if t.is_socket() {
            return "a socket";
        } else if t.is_char_device() {
            return "a character device";
        } else if t.is_block_device() {
            return "a block device";
        }
    }
    let _ = t;
    "not a regular file"
}

#[cfg(unix)]
fn is_fifo(t: std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: std::fs::FileType) -> bool {
    false
}

/// Why `path` cannot be opened, when `metadata` (which follows links)
/// failed with `e`: a broken symbolic link says so and where it points.
fn unreachable(path: &Path, e: &std::io::Error) -> String {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        let target = std::fs::read_link(path).map_or_else(|_| "?".to_string(), |t| t.display().to_string());
        if e.kind() == std::io::ErrorKind::NotFound {
            return format!("broken symbolic link (to {target}): its target does not exist");
        }
        return format!("symbolic link (to {target}) cannot be followed: {e}");
    }
    if e.kind() == std::io::ErrorKind::NotFound {
        return "no such file or directory".to_string();
    }
    format!("cannot read: {e}")
}

/// Expands the command line's paths: files as given (`-` is stdin; a
/// FIFO is read as a stream), folders recursively in name order, keeping
/// only regular files that start like a capture. A path that does not
/// exist, cannot be read, or is a socket or device is an error; so is a
/// file in a folder that cannot be read. Special files and broken links
/// in folders are skipped (never opened: a FIFO would block) with a
/// warning.
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut d = Discovery::default();
    for p in paths {
        let display = p.display().to_string();
        if p.as_os_str() == "-" {
            d.inputs.push(Input { path: p.clone(), display });
            continue;
        }
        let t = match std::fs::metadata(p) {
            Ok(m) => m.file_type(),
            Err(e) => {
                d.error(display, unreachable(p, &e));
                continue;
            }
        };
        if t.is_file() || is_fifo(t) {
            d.inputs.push(Input { path: p.clone(), display });
        } else if t.is_dir() {
            walk(p, &display, &mut d);
        } else {
            d.error(display, format!("is {}: not a capture file", special_kind(t)));
        }
    }
    d
}

/// Adds the captures under folder `root` to `d`.
fn walk(root: &Path, display: &str, d: &mut Discovery) {
    for e in walkdir::WalkDir::new(root).sort_by_file_name().follow_links(true) {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                let at = err.path().unwrap_or(root);
                let shown = err.path().map_or(display.to_string(), |x| x.display().to_string());
                if let Some(ancestor) = err.loop_ancestor() {
                    d.skip(shown, format!("symbolic link loop (back to {}): not followed", ancestor.display()));
                } else if let Some(io) = err.io_error() {
                    let why = unreachable(at, io);
                    if why.starts_with("broken symbolic link") {
                        d.skip(shown, format!("{why}: skipped"));
                    } else {
                        d.error(shown, why);
                    }
                } else {
                    d.error(shown, err.to_string());
                }
                continue;
            }
        };
        let t = e.file_type();
        let shown = || e.path().display().to_string();
        if t.is_dir() {
            continue;
        }
        if !t.is_file() {
            let what = special_kind(t);
            d.skip(shown(), format!("is {what}: skipped (only regular files in folders are read)"));
            continue;
        }
        match sniff_capture(e.path()) {
            Ok(true) => d.inputs.push(Input { path: e.path().to_path_buf(), display: shown() }),
            Ok(false) => {
                d.skipped += 1;
                d.not_captures += 1;
                if d.not_capture_names.len() < NOT_CAPTURE_NAMES {
                    d.not_capture_names.push(shown());
                }
            }
            Err(err) => d.error(shown(), format!("cannot read: {err}")),
        }
    }
}

/// What the scan of one capture hands out, as it is made.
#[derive(Debug)]
pub enum Event {
    /// A capture starts (its name as shown).
    Begin(String),
    Finding(Finding),
    Request(RequestRecord),
    /// A request whole (`show_frame`), before its findings.
    Shown(Box<crate::finding::ShownRequest>),
    /// The capture is done: its errors, per-host activity and statistics
    /// (`findings` and `requests` are empty: they came before).
    End(Box<FileReport>),
}

/// Events a worker may queue before it waits for the reporter.
pub const EVENTS_AHEAD: usize = 1024;

/// Scans the inputs on `jobs` threads; `on_event` gets each capture's
/// events in input order, streamed while the capture is scanned. It
/// returns `false` to stop the run (running captures stop early).
pub fn run(inputs: &[Input], cfg: &ScanConfig, jobs: usize, mut on_event: impl FnMut(Event) -> bool) {
    // One capture: its connections shared among `jobs` workers.
    let within = if inputs.len() == 1 { jobs.max(1) } else { 1 };
    let jobs = jobs.clamp(1, inputs.len().max(1));
    if jobs == 1 {
        for i in inputs {
            let mut open = true;
            scan_file_with(i, cfg, within, &mut |e| {
                open = open && on_event(e);
                open
            });
            if !open {
                return;
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let (reg_tx, reg_rx) = mpsc::channel::<(usize, mpsc::Receiver<Event>)>();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let reg_tx = reg_tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    let (tx, rx) = mpsc::sync_channel(EVENTS_AHEAD);
                    if reg_tx.send((i, rx)).is_err() {
                        break;
                    }
                    // A send fails once the reporter has stopped.
                    scan_file_to(input, cfg, &mut |e| tx.send(e).is_ok());
                }
            });
        }
        drop(reg_tx);
        let mut waiting = std::collections::HashMap::new();
        for want in 0..inputs.len() {
            let rx = loop {
                if let Some(rx) = waiting.remove(&want) {
                    break rx;
                }
                match reg_rx.recv() {
                    Ok((i, rx)) => {
                        waiting.insert(i, rx);
                    }
                    Err(_) => return,
                }
            };
            for e in rx {
                if !on_event(e) {
                    // Stop handing out work; queued and running captures
                    // see their channel closed and stop.
                    next.store(inputs.len(), Ordering::Relaxed);
                    return;
                }
            }
        }
    });
}

/// Stream findings remembered for de-duplication per capture; past it the
/// memory is cleared (a repeat may then be reported again).
const MAX_STREAM_SEEN: usize = 100_000;
/// SLAAC (source, destination) pairs remembered per capture.
const MAX_SLAAC_SEEN: usize = 100_000;

/// Where an output falls in its capture's order: the frame being read
/// when it was made ([`END`] after the last), then the step of that
/// frame's handling ([`step`]), then what orders outputs of one step
/// (the first frame of the connection that made them, where a step
/// closes several). Outputs are reported in this order whatever the
/// number of workers; ties keep the order they were made in.
type Key = [u64; 4];
/// The frame of what is made once the capture is read.
const END: u64 = u64::MAX;

/// The steps of one frame's handling, in their order.
mod step {
    /// The reader's own findings (a SLAAC address).
    pub const READER: u64 = 0;
    /// Connections closed by the sweep for idle ones.
    pub const SWEEP: u64 = 1;
    /// The frame's own packet.
    pub const PACKET: u64 = 2;
    /// The capture's notes read with the frame.
    pub const NOTES: u64 = 3;
    /// Connections retried with key material found in the frame.
    pub const SECRETS: u64 = 4;
    /// Notes on that key material.
    pub const SECRET_NOTES: u64 = 5;
    /// After the last frame: connections closed, then what was held for
    /// the rest of a message (SMS parts), then connections that waited
    /// for keys.
    pub const CLOSED: u64 = 0;
    pub const HELD: u64 = 1;
    pub const PARKED: u64 = 2;
}

/// What a part of the scan (the reader, a worker) hands on to the
/// capture's [`Collector`], in order.
#[derive(Debug)]
// Unboxed: a box per finding would be freed on the reporter's thread,
// which costs more than moving the finding twice.
#[allow(clippy::large_enum_variant)]
enum Out {
    Event(Event),
    /// A request (or SIP request, or short message) sent by `app` to
    /// `host` (else `dst`) at `ts`, to tally.
    Tally {
        host: Option<Arc<str>>,
        dst: SocketAddr,
        ts: crate::util::Timestamp,
        app: Option<Arc<AppRef>>,
    },
    /// A note for the capture's record, at its frame.
    Note(u64, String),
}

/// One part's message processing (the reader's, or a worker's): what it
/// finds goes out as [`Out`]s, each with its [`Key`].
struct Requests<'a> {
    cfg: &'a ScanConfig,
    /// The capture's name, and this part's counters (`stats`; its notes
    /// go out as [`Out::Note`]).
    rep: FileReport,
    /// Apps named by a uid map after their first packets (by source and
    /// id): what those packets made is given the name.
    named: std::collections::HashMap<(&'static str, i64), Arc<AppRef>>,
    /// (source, destination) pairs whose SLAAC EUI-64 source address was
    /// reported: once per capture and destination.
    slaac_seen: std::collections::HashSet<(std::net::Ipv6Addr, std::net::IpAddr)>,
    /// Stream findings already reported, by flow (UDP or not, then the
    /// addresses) and value: a beacon that repeats its MAC every two
    /// seconds is one finding, at its first frame.
    stream_seen: std::collections::HashSet<(bool, SocketAddr, SocketAddr, usize, String, String)>,
    /// What is taken now came from a UDP datagram: its repeats are not
    /// those of a TCP connection between the same ends (which another
    /// worker may read).
    udp: bool,
    /// What was made, with its key.
    outs: Vec<(Key, Out)>,
    /// The key of what is made now.
    key: Key,
    /// Notes sent: past [`MAX_NOTES`](crate::finding::MAX_NOTES) none of
    /// this part's can be kept.
    notes: usize,
    /// The capture's name and the rules' ids, shared by the findings.
    capture: Arc<str>,
    rule_ids: Vec<Arc<str>>,
}

type AppKey = (&'static str, Option<i64>, Option<String>);

impl<'a> Requests<'a> {
    fn new(cfg: &'a ScanConfig, capture: &str) -> Self {
        Requests {
            cfg,
            rep: FileReport { capture: capture.to_string(), ..FileReport::default() },
            named: Default::default(),
            slaac_seen: Default::default(),
            stream_seen: Default::default(),
            udp: false,
            outs: Vec::new(),
            key: [0; 4],
            notes: 0,
            capture: capture.into(),
            rule_ids: cfg.engine.rules.rules.iter().map(|r| Arc::from(r.id.as_str())).collect(),
        }
    }

    fn send(&mut self, e: Event) {
        self.outs.push((self.key, Out::Event(e)));
    }

    /// Keeps the first notes of a capture for its record.
    fn note(&mut self, frame: u64, notes: &[String]) {
        for n in notes {
            if self.notes < crate::finding::MAX_NOTES {
                self.notes += 1;
                self.outs.push((self.key, Out::Note(frame, n.clone())));
            }
        }
    }

    /// Remembers the name a uid map gave an app.
    fn learn_name(&mut self, a: Arc<AppRef>) {
        if let Some(id) = a.id
            && (self.named.len() < MAX_APPS || self.named.contains_key(&(a.source, id)))
        {
            self.named.insert((a.source, id), a);
        }
    }

    /// Gives an app known only by its id the name a later uid map gave it.
    fn name(&self, app: &mut Option<Arc<AppRef>>) {
        if let Some(a) = app
            && a.name.is_none()
            && let Some(id) = a.id
            && let Some(named) = self.named.get(&(a.source, id))
        {
            *app = Some(named.clone());
        }
    }

    /// Is what `app` sent to be reported (`--app`)? Counts what is not.
    fn wanted(&mut self, app: Option<&Arc<AppRef>>) -> bool {
        let apps = &self.cfg.apps;
        let yes = apps.is_empty() || app.is_some_and(|a| apps.iter().any(|g| a.matches(g)));
        if !yes {
            self.rep.stats.app_filtered += 1;
        }
        yes
    }

    /// Tallies a request (or SIP request, or short message) sent by `app`
    /// to `host` (else `dst`) at `ts`.
    fn tally(
        &mut self,
        host: Option<Arc<str>>,
        dst: SocketAddr,
        ts: crate::util::Timestamp,
        app: Option<&Arc<AppRef>>,
    ) {
        let t = Out::Tally { host, dst, ts, app: app.cloned() };
        self.outs.push((self.key, t));
    }

    fn take(&mut self, req: HttpRequest, names: &Names) {
        let host: Option<Arc<str>> = req.host().map(Arc::from).or_else(|| names.get(&req.dst.ip()).map(Arc::from));
        let stats = &mut self.rep.stats;
        stats.requests += 1;
        if !self.wanted(req.app.as_ref()) {
            return;
        }
        if !req.notes.is_empty() {
            self.rep.stats.requests_with_notes += 1;
            self.note(req.frame, &req.notes);
        }
        self.tally(host.clone(), req.dst, req.ts, req.app.as_ref());
        if self.cfg.show_frame == Some(req.frame) {
            self.send(Event::Shown(Box::new(shown(&self.rep.capture, &req))));
        }
        match self.cfg.mode {
            Mode::Requests => {
                // Detection runs here only so the values it finds can be
                // masked in the listing.
                let (raws, notes) = self.found(&req, host.as_deref());
                let mut r = record(&self.rep.capture, &req, host.as_deref().map(str::to_string));
                r.uri_masked = mask_uri(&r.uri, &raws);
                r.notes.extend(notes);
                r.found = found_values(raws);
                self.send(Event::Request(r));
            }
            Mode::Scan => self.detect(req, host),
        }
    }

    /// Extracts the request's fields and runs detection on them; returns
    /// what was found and the notes of extraction (counted).
    fn found(&mut self, req: &HttpRequest, host: Option<&str>) -> (Vec<crate::detect::RawFinding>, Vec<String>) {
        let engine = &self.cfg.engine;
        let fields = extract::request_fields_where(req, &|name, value| engine.might_match(name, value));
        if !fields.notes.is_empty() {
            if req.notes.is_empty() {
                self.rep.stats.requests_with_notes += 1;
            }
            self.note(req.frame, &fields.notes);
        }
        let path = fields.fields.iter().find(|f| f.location == Location::Path).map_or("", |f| &*f.value);
        let ctx = RequestCtx {
            dst: Some(req.dst.ip()),
            method: &req.head.method,
            host,
            path,
            dst_port: req.dst.port(),
            app: req.app.as_deref(),
        };
        let mut tally = crate::detect::Tally::default();
        let mut raws = self.cfg.engine.detect_counting(&ctx, &fields.fields, &mut tally);
        add_tally(&mut self.rep.stats, &tally);
        if engine.has_profile() && std::str::from_utf8(&req.body).is_err() {
            // A body that is not all text (binary, or text with binary
            // fields): the profile's byte forms in it too.
            merge_bytes(&mut raws, engine.detect_bytes(Location::Body, &req.body));
        }
        (raws, fields.notes)
    }

    fn detect(&mut self, req: HttpRequest, host: Option<Arc<str>>) {
        let (mut raws, _) = self.found(&req, host.as_deref());
        if crate::finding::local_only(req.dst.ip()) {
            // Announcements to the local network (SSDP NOTIFY every few
            // seconds, from any port) repeat: each value once per sending
            // address and group.
            self.seen_once(SocketAddr::new(req.src.ip(), 0), req.dst, &mut raws);
        }
        if self.cfg.all_requests {
            let mut r = record(&self.rep.capture, &req, host.as_deref().map(str::to_string));
            r.uri_masked = mask_uri(&r.uri, &raws);
            for v in raws.iter().flat_map(|f| [Some(&f.value), f.matched.as_ref()]).flatten() {
                if !r.found.contains(v) {
                    r.found.push(v.clone());
                }
            }
            self.send(Event::Request(r));
        }
        if raws.is_empty() {
            return;
        }
        self.rep.stats.requests_with_findings += 1;
        let uri = req.uri();
        let uri_masked = mask_uri(&uri, &raws);
        let at = Where {
            frame: req.frame,
            ts: req.ts,
            src: req.src,
            dst: req.dst,
            host,
            protocol: req.protocol(),
            tls: req.tls.clone(),
            stream_id: req.stream_id,
            app: req.app.clone(),
        };
        self.push_findings(raws, &at, Some((&req.head.method, &uri, &uri_masked)), false);
    }

    /// A SIP message. A request is scanned (its identities taken apart
    /// by `extract::sip`) and listed in `requests` mode; a response is
    /// what the network said: counted, never scanned.
    fn sip(&mut self, m: crate::app::sip::SipMessage) {
        let stats = &mut self.rep.stats;
        let Some(method) = m.method().map(str::to_string) else {
            stats.sip_responses += 1;
            return;
        };
        stats.sip_requests += 1;
        if !self.wanted(m.app.as_ref()) {
            return;
        }
        if !m.notes.is_empty() {
            self.rep.stats.requests_with_notes += 1;
            self.note(m.frame, &m.notes);
        }
        let host = m.host();
        self.tally(host.as_deref().map(Arc::from), m.dst, m.ts, m.app.as_ref());
        let uri = m.uri().unwrap_or("").to_string();
        let fields = extract::sip::sip_fields(&m);
        let ctx = RequestCtx {
            dst: Some(m.dst.ip()),
            method: &method,
            host: host.as_deref(),
            path: "",
            dst_port: m.dst.port(),
            app: m.app.as_deref(),
        };
        let mut tally = crate::detect::Tally::default();
        let mut raws = self.cfg.engine.detect_counting(&ctx, &fields.fields, &mut tally);
        add_tally(&mut self.rep.stats, &tally);
        // A value repeated in several headers of one message (From,
        // P-Preferred-Identity, the Request-URI) is one finding: the first.
        first_of_each_value(&mut raws);
        let uri_masked = mask_uri(&uri, &raws);
        if self.cfg.mode == Mode::Requests {
            let found = found_values(raws);
            let r = RequestRecord {
                capture: self.rep.capture.clone(),
                frame: m.frame,
                time: m.ts,
                src: m.src,
                dst: m.dst,
                method,
                host,
                uri,
                uri_masked,
                found,
                body_bytes: m.body.len() as u64,
                content_type: m.header("Content-Type").map(str::to_string),
                notes: m.notes,
                text: None,
                protocol: "sip",
                tls: m.tls,
                stream_id: None,
                app: m.app,
            };
            self.send(Event::Request(r));
            return;
        }
        if raws.is_empty() {
            return;
        }
        self.rep.stats.payloads_with_findings += 1;
        let at = Where {
            frame: m.frame,
            ts: m.ts,
            src: m.src,
            dst: m.dst,
            host: host.as_deref().map(Arc::from),
            protocol: "sip",
            tls: m.tls.clone(),
            stream_id: None,
            app: m.app.clone(),
        };
        self.push_findings(raws, &at, Some((&method, &uri, &uri_masked)), false);
    }

    /// A short message or a mobile identity. What the device sent (an
    /// SMS-SUBMIT; an SMS-DELIVER in the uplink of a test rig, noted) is
    /// scanned by every rule at location `sms`, recipient as `host` and
    /// `uri` (`sms:122`); what the network sent it is counted only.
    fn telephony(&mut self, t: crate::app::Telephony) {
        use crate::app::TelephonyEvent;
        use crate::extract::{Extracted, Field};
        let uplink = match &t.what {
            TelephonyEvent::Sms { sms, .. } => sms.uplink,
            TelephonyEvent::Identity { kind, uplink, .. } => kind.is_identifier() && *uplink,
        };
        if uplink && !self.wanted(t.app.as_ref()) {
            return;
        }
        let (method, address, text, mut notes, protocol, fields) = match t.what {
            TelephonyEvent::Sms { sms, via } => {
                let deliver = sms.kind == crate::app::sms::SmsKind::Deliver;
                if !sms.uplink {
                    self.rep.stats.sms_downlink += 1;
                    return;
                }
                self.rep.stats.sms_messages += 1;
                let mut notes = sms.notes.clone();
                if deliver {
                    notes
                        .push("SMS-DELIVER in the uplink: sent by a test rig or SIM tool acting as the network".into());
                }
                // The text whole, as a query value would be: the STS string
                // and identifiers by shape are found in it.
                let mut ex = Extracted::default();
                ex.fields.push(Field {
                    location: Location::Sms,
                    name: None,
                    value: sms.text.clone().into(),
                    encoding: Default::default(),
                });
                // A number written in international form in a message is
                // a phone number: given the key that says so.
                for n in extract::international_numbers(&sms.text) {
                    ex.fields.push(Field {
                        location: Location::Sms,
                        name: Some("sms:msisdn".into()),
                        value: n.to_string().into(),
                        encoding: Default::default(),
                    });
                }
                let protocol = if via == "ims" { "sms/ims" } else { "sms/gsm" };
                (sms.kind.as_str(), sms.address.clone(), Some(sms.text), notes, protocol, ex)
            }
            TelephonyEvent::Identity { kind, value, uplink, message } => {
                if !kind.is_identifier() || !uplink {
                    return;
                }
                self.rep.stats.nas_identities += 1;
                // A phone sends the IMEI's 15th digit as a spare 0: the
                // check digit is restored for the IMEI detector.
                let id = crate::app::sms::MobileIdentity { kind, value };
                let value = id.imei_with_check_digit().unwrap_or(id.value);
                let mut ex = Extracted::default();
                ex.fields.push(Field {
                    location: Location::Stream,
                    name: Some(format!("nas:{}", kind.as_str()).into()),
                    value: value.into(),
                    encoding: Default::default(),
                });
                (message.as_str(), None, None, Vec::new(), "gsm", ex)
            }
        };
        let uri = address.as_deref().map_or_else(|| "sms:".to_string(), |a| format!("sms:{a}"));
        let uri = if text.is_some() { uri } else { String::new() };
        if text.is_some() {
            self.tally(address.as_deref().map(Arc::from), t.dst, t.ts, t.app.as_ref());
        }
        let ctx = RequestCtx {
            dst: Some(t.dst.ip()),
            method,
            host: address.as_deref(),
            path: "",
            dst_port: t.dst.port(),
            app: t.app.as_deref(),
        };
        let mut tally = crate::detect::Tally::default();
        let mut raws = self.cfg.engine.detect_counting(&ctx, &fields.fields, &mut tally);
        add_tally(&mut self.rep.stats, &tally);
        first_of_each_value(&mut raws);
        if self.cfg.mode == Mode::Requests {
            let found = found_values(raws);
            if !notes.is_empty() {
                self.rep.stats.requests_with_notes += 1;
                self.note(t.frame, &notes);
            }
            let r = RequestRecord {
                capture: self.rep.capture.clone(),
                frame: t.frame,
                time: t.ts,
                src: t.src,
                dst: t.dst,
                method: method.to_string(),
                host: address,
                uri_masked: uri.clone(),
                uri,
                found,
                body_bytes: text.as_ref().map_or(0, |s| s.len() as u64),
                content_type: None,
                notes: std::mem::take(&mut notes),
                text,
                protocol,
                tls: None,
                stream_id: None,
                app: t.app,
            };
            self.send(Event::Request(r));
            return;
        }
        if !notes.is_empty() {
            self.rep.stats.requests_with_notes += 1;
            self.note(t.frame, &notes);
        }
        if raws.is_empty() {
            return;
        }
        self.rep.stats.payloads_with_findings += 1;
        let at = Where {
            frame: t.frame,
            ts: t.ts,
            src: t.src,
            dst: t.dst,
            host: address.as_deref().map(Arc::from),
            protocol,
            tls: None,
            stream_id: None,
            app: t.app,
        };
        let uri_masked = mask_uri(&uri, &raws);
        let request = (!uri.is_empty()).then_some((method, uri.as_str(), uri_masked.as_str()));
        self.push_findings(raws, &at, request, false);
    }

    /// Scans the payload of a non-HTTP stream or datagram: same
    /// detectors, findings one severity lower (location `stream`). A
    /// payload that is not text (kept because a device profile is loaded)
    /// is searched for the profile's byte forms only. Each value is
    /// reported once per flow.
    fn stream(&mut self, p: StreamPayload, names: &Names) {
        if self.cfg.mode != Mode::Scan || !self.wanted(p.app.as_ref()) {
            return;
        }
        let host = names.get(&p.dst.ip()).map(str::to_string);
        let engine = &self.cfg.engine;
        let mut raws = if p.binary {
            engine.detect_bytes(Location::Stream, &p.data)
        } else {
            let qname;
            let fields = if p.dns_query {
                qname = crate::util::lossy(&p.data);
                extract::dns_query_fields(&qname)
            } else {
                extract::stream_fields(&p.data)
            };
            let ctx = RequestCtx {
                dst: Some(p.dst.ip()),
                method: "",
                host: host.as_deref(),
                path: "",
                dst_port: p.dst.port(),
                app: p.app.as_deref(),
            };
            let mut tally = crate::detect::Tally::default();
            let mut raws = engine.detect_counting(&ctx, &fields.fields, &mut tally);
            add_tally(&mut self.rep.stats, &tally);
            if engine.has_profile() && !p.dns_query && std::str::from_utf8(&p.data).is_err() {
                // Read as text, yet not all text: binary fields too.
                merge_bytes(&mut raws, engine.detect_bytes(Location::Stream, &p.data));
            }
            raws
        };
        // A value repeated across the lines of one payload (SIP repeats
        // identities in several headers) is one finding: the first.
        first_of_each_value(&mut raws);
        self.seen_once(p.src, p.dst, &mut raws);
        if raws.is_empty() {
            return;
        }
        self.rep.stats.payloads_with_findings += 1;
        let protocol = if p.dns_query { "dns" } else { "stream" };
        let at = Where {
            frame: p.frame,
            ts: p.ts,
            src: p.src,
            dst: p.dst,
            host: host.as_deref().map(Arc::from),
            protocol,
            tls: p.tls.clone(),
            stream_id: None,
            app: p.app.clone(),
        };
        self.push_findings(raws, &at, None, true);
    }

    /// Keeps only the findings not yet reported between `src` and `dst`
    /// (by rule, kind and value): a beacon or an announcement that repeats
    /// is one finding, at its first frame.
    fn seen_once(&mut self, src: SocketAddr, dst: SocketAddr, raws: &mut Vec<crate::detect::RawFinding>) {
        if self.stream_seen.len() >= MAX_STREAM_SEEN {
            self.stream_seen.clear();
        }
        let udp = self.udp;
        raws.retain(|r| {
            self.stream_seen.insert((udp, src, dst, r.rule, r.kind.to_string(), r.value.to_ascii_lowercase()))
        });
    }

    /// A packet from an IPv6 address whose interface identifier is the
    /// EUI-64 of a MAC (SLAAC without privacy extensions, RFC 4291
    /// appendix A): the MAC goes to every server the device talks to.
    /// Reported once per capture and destination, at the first packet;
    /// link-local sources (which never leave the link) are not.
    fn slaac(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        at: (u64, crate::util::Timestamp),
        app: Option<&Arc<AppRef>>,
        names: &Names,
    ) {
        let (frame, ts) = at;
        let std::net::IpAddr::V6(a) = src.ip() else { return };
        let o = a.octets();
        if o[11] != 0xff || o[12] != 0xfe || (a.segments()[0] & 0xffc0) == 0xfe80 || a.is_multicast() {
            return;
        }
        let mac = [o[8] ^ 0x02, o[9], o[10], o[13], o[14], o[15]];
        if mac == [0; 6] || self.slaac_seen.contains(&(a, dst.ip())) {
            return;
        }
        if self.slaac_seen.len() >= MAX_SLAAC_SEEN {
            self.slaac_seen.clear();
        }
        self.slaac_seen.insert((a, dst.ip()));
        if self.cfg.mode != Mode::Scan || !self.wanted(app) {
            return;
        }
        let text = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        let field = extract::Field {
            location: Location::Address,
            name: Some("ipv6_src:mac".into()),
            value: text.into(),
            encoding: extract::Chain::of(&["eui64"]),
        };
        let host = names.get(&dst.ip()).map(str::to_string);
        let ctx = RequestCtx {
            dst: Some(dst.ip()),
            method: "",
            host: host.as_deref(),
            path: "",
            dst_port: dst.port(),
            app: app.map(|a| &**a),
        };
        let raws = self.cfg.engine.detect(&ctx, std::slice::from_ref(&field));
        if raws.is_empty() {
            return;
        }
        self.rep.stats.payloads_with_findings += 1;
        let at = Where {
            frame,
            ts,
            src,
            dst,
            host: host.as_deref().map(Arc::from),
            protocol: "ipv6",
            tls: None,
            stream_id: None,
            app: app.cloned(),
        };
        self.push_findings(raws, &at, None, false);
    }

    fn push_findings(
        &mut self,
        raws: Vec<crate::detect::RawFinding>,
        at: &Where,
        request: Option<(&str, &str, &str)>,
        lower: bool,
    ) {
        // What only the local network hears (SSDP, mDNS, broadcasts) is one
        // severity lower, as non-HTTP streams are.
        let lower = lower || crate::finding::local_only(at.dst.ip());
        // One copy of the request's place for all its findings.
        let host = at.host.clone();
        let method: Option<Arc<str>> = request.map(|(m, _, _)| m.into());
        let uri: Option<Arc<str>> = request.map(|(_, u, _)| u.into());
        let uri_masked: Option<Arc<str>> = request.map(|(_, _, u)| u.into());
        for r in raws {
            let rule = &self.cfg.engine.rules.rules[r.rule];
            self.rep.stats.findings += 1;
            let f = Finding {
                rule: self.rule_ids.get(r.rule).cloned().unwrap_or_else(|| rule.id.as_str().into()),
                severity: if lower { rule.severity.lower() } else { rule.severity },
                title: r.title,
                kind: r.kind,
                value: r.value,
                matched: r.matched,
                confidence: r.confidence,
                encoding: r.encoding,
                location: r.location,
                field: r.field,
                capture: self.capture.clone(),
                frame: at.frame,
                time: at.ts,
                src: at.src,
                dst: at.dst,
                host: host.clone(),
                method: method.clone(),
                uri: uri.clone(),
                uri_masked: uri_masked.clone(),
                protocol: at.protocol,
                tls: at.tls.clone(),
                stream_id: at.stream_id,
                app: at.app.clone(),
                role: None,
            };
            let f = Finding { role: crate::finding::mac_role(&f.kind, f.field.as_deref()), ..f };
            self.send(Event::Finding(f));
        }
    }
}

/// Folds the tally of an app known by its id alone into the one its uid
/// map named later (the same source and id), if any.
fn fold_named(apps: &mut Vec<AppActivity>) {
    let named: std::collections::HashMap<(&'static str, Option<i64>), usize> = apps
        .iter()
        .enumerate()
        .filter(|(_, a)| a.app.name.is_some() && a.app.id.is_some())
        .map(|(i, a)| ((a.app.source, a.app.id), i))
        .collect();
    let mut fold = Vec::new();
    for (i, a) in apps.iter().enumerate() {
        if a.app.name.is_none()
            && let Some(&to) = named.get(&(a.app.source, a.app.id))
        {
            fold.push((i, to));
        }
    }
    for &(from, to) in &fold {
        let (f, r, first, last) = (apps[from].frames, apps[from].requests, apps[from].first, apps[from].last);
        let t = &mut apps[to];
        t.frames += f;
        t.requests += r;
        t.first = t.first.min(first);
        t.last = t.last.max(last);
    }
    let gone: std::collections::HashSet<usize> = fold.iter().map(|(from, _)| *from).collect();
    let mut i = 0;
    apps.retain(|_| {
        i += 1;
        !gone.contains(&(i - 1))
    });
}

/// Adds the byte-form findings not already found as text.
fn merge_bytes(raws: &mut Vec<crate::detect::RawFinding>, bytes: Vec<crate::detect::RawFinding>) {
    for r in bytes {
        if !raws.iter().any(|o| o.kind == r.kind && o.value.eq_ignore_ascii_case(&r.value)) {
            raws.push(r);
        }
    }
}

/// Counts what detection set aside in the capture's record.
fn add_tally(stats: &mut crate::finding::FileStats, t: &crate::detect::Tally) {
    stats.emails_set_aside += t.emails_set_aside;
    stats.test_device_imeis += t.test_device_imeis;
}

/// Keeps the first finding of each (rule, kind, value) of one message: a
/// value repeated in its headers or lines is one finding.
fn first_of_each_value(raws: &mut Vec<crate::detect::RawFinding>) {
    let mut seen = std::collections::HashSet::new();
    raws.retain(|r| seen.insert((r.rule, r.kind.clone(), r.value.to_ascii_lowercase())));
}

/// The distinct values (and profile values) found in a message: what a
/// listing masks.
fn found_values(raws: Vec<crate::detect::RawFinding>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for v in raws.into_iter().flat_map(|f| [Some(f.value), f.matched]).flatten() {
        if !found.contains(&v) {
            found.push(v);
        }
    }
    found
}

/// Where a request or stream was seen.
struct Where {
    frame: u64,
    ts: crate::util::Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    host: Option<Arc<str>>,
    protocol: &'static str,
    tls: Option<std::sync::Arc<crate::finding::TlsInfo>>,
    stream_id: Option<u32>,
    app: Option<Arc<AppRef>>,
}

/// Keeps the first notes of a capture for its record.
fn note(stats: &mut crate::finding::FileStats, frame: u64, notes: &[String]) {
    for n in notes {
        if stats.notes.len() < crate::finding::MAX_NOTES {
            stats.notes.push((frame, n.clone()));
        }
    }
}

/// Masks in the target every value found, and the raw (encoded) value of
/// every query parameter a finding came from.
fn mask_uri(uri: &str, raws: &[crate::detect::RawFinding]) -> String {
    let mut values: Vec<&str> = raws.iter().map(|r| r.value.as_str()).collect();
    // Cut at ASCII bytes (`?`, `&`, `=`): always between characters.
    if let Some(q) = memchr::memchr(b'?', uri.as_bytes()) {
        for pair in query_pairs(&uri[q + 1..]) {
            let (k, v) = match memchr::memchr(b'=', pair.as_bytes()) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            // Borrowed when there is nothing to decode.
            let (k, _) = crate::codec::text::url_decoded(k.as_bytes());
            let hit = raws.iter().any(|r| {
                r.location == Location::Query
                    && r.field
                        .as_deref()
                        .is_some_and(|f| f.strip_prefix(&*k).is_some_and(|t| t.is_empty() || t.starts_with(':')))
            });
            if hit {
                values.push(v);
            }
        }
    }
    mask_all(uri, &values)
}

/// `query.split('&')`, by memchr.
fn query_pairs(query: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let rest = query.get(from..)?;
        let end = memchr::memchr(b'&', rest.as_bytes()).unwrap_or(rest.len());
        from += end + 1;
        Some(&rest[..end])
    })
}

/// A request whole, for `teleaudit show`.
fn shown(capture: &str, req: &HttpRequest) -> crate::finding::ShownRequest {
    let text = |b: &[u8]| crate::util::lossy(b).into_owned();
    crate::finding::ShownRequest {
        capture: capture.to_string(),
        frame: req.frame,
        time: req.ts,
        src: req.src,
        dst: req.dst,
        protocol: req.protocol(),
        method: req.head.method.clone(),
        target: text(&req.head.target),
        version: req.head.version,
        headers: req.head.headers.iter().map(|(n, v)| (n.to_string(), text(v))).collect(),
        body: req.body.clone(),
        decoded: req.decoded.clone(),
        notes: req.notes.clone(),
        tls: req.tls.clone(),
        stream_id: req.stream_id,
        app: req.app.clone(),
    }
}

fn record(capture: &str, req: &HttpRequest, host: Option<String>) -> RequestRecord {
    RequestRecord {
        capture: capture.to_string(),
        frame: req.frame,
        time: req.ts,
        src: req.src,
        dst: req.dst,
        method: req.head.method.clone(),
        host,
        uri: req.uri(),
        uri_masked: String::new(),
        found: Vec::new(),
        body_bytes: req.body.len() as u64,
        content_type: req.content_type(),
        notes: req.notes.clone(),
        text: None,
        protocol: req.protocol(),
        tls: req.tls.clone(),
        stream_id: req.stream_id,
        app: req.app.clone(),
    }
}

fn error(capture: &str, frame: Option<u64>, message: String) -> ErrorRecord {
    ErrorRecord { capture: capture.to_string(), frame, message }
}

/// Names of key logs looked for beside a capture `dir/name.ext`:
/// `name.ext.keys`, `name.ext.keylog`, `name.keys`, `name.keylog`,
/// `name.txt`, `name.nss-keylog.txt`, and the folder's `sslkeylog`,
/// `sslkeylog.txt`, `sslkeylog.log`, `SSLKEYLOG.txt`, `keylog.txt`. A file
/// is used only when it reads as a key log.
pub fn keylogs_beside(path: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let stem = path.file_stem().and_then(|n| n.to_str()).unwrap_or(name);
    let own = [
        format!("{name}.keys"),
        format!("{name}.keylog"),
        format!("{stem}.keys"),
        format!("{stem}.keylog"),
        format!("{stem}.txt"),
        format!("{stem}.nss-keylog.txt"),
    ];
    let shared = ["sslkeylog", "sslkeylog.txt", "sslkeylog.log", "SSLKEYLOG.txt", "keylog.txt"];
    let mut out: Vec<PathBuf> = Vec::new();
    for n in own.iter().map(String::as_str).chain(shared) {
        let p = dir.join(n);
        if p != path && p.is_file() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Bytes of a key log read beside a capture.
const MAX_KEYLOG_BESIDE: u64 = 64 << 20;

/// Scans one capture end to end; returns everything it produced.
pub fn scan_file(input: &Input, cfg: &ScanConfig) -> FileReport {
    collect(|sink| scan_file_to(input, cfg, sink))
}

/// Scans one capture end to end, handing its events to `sink` as they are
/// made: `Begin`, findings or requests, then `End`. A `false` from the
/// sink stops the scan.
pub fn scan_file_to(input: &Input, cfg: &ScanConfig, sink: &mut dyn FnMut(Event) -> bool) {
    scan_file_with(input, cfg, 1, sink);
}

/// [`scan_file_to`] with `workers` threads sharing the capture's
/// connections (one: on the calling thread alone). The events are the
/// same for any number.
pub fn scan_file_with(input: &Input, cfg: &ScanConfig, workers: usize, sink: &mut dyn FnMut(Event) -> bool) {
    let mut beside = Vec::new();
    let mut notes = Vec::new();
    if cfg.keylog_beside && input.path.as_os_str() != "-" {
        for p in keylogs_beside(&input.path) {
            use std::io::Read;
            let mut text = Vec::new();
            let read = std::fs::File::open(&p).and_then(|f| f.take(MAX_KEYLOG_BESIDE).read_to_end(&mut text));
            if read.is_ok() && crate::app::tls::keylog::looks_like_keylog(&text) {
                // The notes once: every worker reads the same text.
                for n in KeyStore::new(Default::default()).add_local(&text) {
                    notes.push(format!("key log {}: {}", p.display(), n));
                }
                beside.push(text);
            }
        }
    }
    let opened = CaptureReader::open_path(&input.path);
    scan_opened(&input.display, opened, cfg, &beside, notes, workers, sink);
}

/// Scans a capture from any reader (tests, fuzzing, other front ends).
pub fn scan_reader(display: &str, src: Box<dyn std::io::Read + Send>, cfg: &ScanConfig) -> FileReport {
    scan_reader_with(display, src, cfg, 1)
}

/// [`scan_reader`] with `workers` threads sharing the connections.
pub fn scan_reader_with(
    display: &str,
    src: Box<dyn std::io::Read + Send>,
    cfg: &ScanConfig,
    workers: usize,
) -> FileReport {
    collect(|sink| scan_opened(display, CaptureReader::open(src), cfg, &[], Vec::new(), workers, sink))
}

/// Gathers the events of one capture into its report.
fn collect(scan: impl FnOnce(&mut dyn FnMut(Event) -> bool)) -> FileReport {
    let (mut findings, mut requests, mut end) = (Vec::new(), Vec::new(), None);
    scan(&mut |e| {
        match e {
            Event::Begin(_) => {}
            Event::Finding(f) => findings.push(f),
            Event::Request(r) => requests.push(r),
            Event::Shown(_) => {}
            Event::End(r) => end = Some(*r),
        }
        true
    });
    let mut rep = end.unwrap_or_default();
    rep.findings = findings;
    rep.requests = requests;
    rep
}

/// The apps of a capture: frames and requests of each, in order of first
/// appearance, at most [`MAX_APPS`] (the rest together).
#[derive(Default)]
struct AppTable {
    index: std::collections::HashMap<AppKey, usize>,
    list: Vec<AppActivity>,
    /// The app of the last attributed frame and its index.
    last: Option<(Arc<AppRef>, usize)>,
}

impl AppTable {
    /// Where `app` is tallied (added at `ts` if new).
    fn index(&mut self, app: &Arc<AppRef>, ts: crate::util::Timestamp) -> usize {
        let mut k: AppKey = (app.source, app.id, app.name.clone());
        if self.index.len() >= MAX_APPS && !self.index.contains_key(&k) {
            k = ("", None, Some(OTHER_APPS.to_string()));
        }
        let list = &mut self.list;
        let i = *self.index.entry(k).or_insert_with_key(|k| {
            let app = if k.0.is_empty() {
                Arc::new(AppRef { id: None, name: k.2.clone(), label: None, source: "" })
            } else {
                app.clone()
            };
            list.push(AppActivity { app, frames: 0, requests: 0, first: ts, last: ts });
            list.len() - 1
        });
        let a = &mut list[i];
        a.first = a.first.min(ts);
        a.last = a.last.max(ts);
        i
    }

    /// Counts a frame the capture tool attributed to `app`.
    fn frame(&mut self, app: &Arc<AppRef>, ts: crate::util::Timestamp) {
        let i = match &self.last {
            Some((last, i)) if Arc::ptr_eq(last, app) => *i,
            _ => {
                let i = self.index(app, ts);
                self.last = Some((app.clone(), i));
                i
            }
        };
        let a = &mut self.list[i];
        a.frames += 1;
        a.last = a.last.max(ts);
    }

    /// Adds another table's counts (requests tallied apart from frames).
    fn absorb(&mut self, other: AppTable) {
        for a in other.list {
            let i = self.index(&a.app, a.first);
            let t = &mut self.list[i];
            t.frames += a.frames;
            t.requests += a.requests;
            t.last = t.last.max(a.last);
        }
    }
}

/// The capture's end of the pipeline: takes the parts' outputs in order,
/// tallies hosts and apps, keeps the first notes, and hands events on.
struct Collector<'a> {
    hosts: BTreeMap<String, HostActivity>,
    /// Requests per app (frames are counted by the reader).
    apps: AppTable,
    notes: Vec<(u64, String)>,
    sink: &'a mut dyn FnMut(Event) -> bool,
    /// False once the sink refused an event: the scan stops.
    open: bool,
}

impl Collector<'_> {
    fn send(&mut self, e: Event) {
        if self.open {
            self.open = (self.sink)(e);
        }
    }

    fn take(&mut self, o: Out) {
        match o {
            Out::Event(e) => self.send(e),
            Out::Note(frame, n) => {
                if self.notes.len() < crate::finding::MAX_NOTES {
                    self.notes.push((frame, n));
                }
            }
            Out::Tally { host, dst, ts, app } => self.tally(host, dst, ts, app),
        }
    }

    /// Takes the outputs of one round of several parts, in [`Key`] order:
    /// as a stable sort of them one part after another would give (ties
    /// keep the parts' order, and each part's own). The parts are left
    /// empty with their room, to be filled again.
    ///
    /// Each part's outputs are nearly always in order already: they are
    /// merged where they are, without a copy or a sort's scratch buffer.
    fn merge(&mut self, parts: &mut [&mut Vec<(Key, Out)>]) {
        for p in parts.iter_mut() {
            if !p.is_sorted_by_key(|(k, _)| *k) {
                p.sort_by_key(|(k, _)| *k);
            }
        }
        let mut filled = parts.iter_mut().filter(|p| !p.is_empty());
        let (Some(first), second) = (filled.next(), filled.next()) else { return };
        let Some(second) = second else {
            // One part (nearly every call with one worker): no merge.
            for (_, o) in first.drain(..) {
                self.take(o);
            }
            return;
        };
        let mut heads: Vec<std::iter::Peekable<std::vec::Drain<'_, (Key, Out)>>> =
            [first, second].into_iter().chain(filled).map(|p| p.drain(..).peekable()).collect();
        loop {
            // The first part holding the lowest key: ties go to the
            // earlier part.
            let mut best: Option<(usize, Key)> = None;
            for (i, h) in heads.iter_mut().enumerate() {
                if let Some((k, _)) = h.peek()
                    && best.is_none_or(|(_, b)| *k < b)
                {
                    best = Some((i, *k));
                }
            }
            let Some((i, _)) = best else { break };
            if let Some((_, o)) = heads[i].next() {
                self.take(o);
            }
        }
    }

    fn tally(&mut self, host: Option<Arc<str>>, dst: SocketAddr, ts: crate::util::Timestamp, app: Option<Arc<AppRef>>) {
        let named: std::borrow::Cow<'_, str> =
            host.as_deref().map_or_else(|| dst.ip().to_string().into(), std::borrow::Cow::Borrowed);
        let key = if self.hosts.len() >= MAX_HOSTS && !self.hosts.contains_key(&*named) { OTHER_HOSTS } else { &named };
        let h = match self.hosts.get_mut(key) {
            Some(h) => h,
            None => self.hosts.entry(key.to_string()).or_insert(HostActivity {
                host: key.to_string(),
                requests: 0,
                first: ts,
                last: ts,
                apps: Vec::new(),
            }),
        };
        h.requests += 1;
        h.first = h.first.min(ts);
        h.last = h.last.max(ts);
        let Some(app) = app else { return };
        let name = app.display();
        if let Err(at) = h.apps.binary_search(&name)
            && h.apps.len() < MAX_HOST_APPS
        {
            h.apps.insert(at, name);
        }
        let i = self.apps.index(&app, ts);
        self.apps.list[i].requests += 1;
    }
}

/// The key store of one part: the run's key log, and those beside the
/// capture.
fn key_store(cfg: &ScanConfig, beside: &[Vec<u8>], pcapng: bool) -> KeyStore {
    let mut keys = KeyStore::new(cfg.keylog.clone());
    for text in beside {
        keys.add_local(text);
    }
    // A pcapng file may carry its keys in a Decryption Secrets Block
    // anywhere, even after the connections they open.
    keys.set_may_grow(pcapng);
    keys
}

/// A worker: the connections it was given, their application layer and
/// message processing. With one worker it has every connection and every
/// datagram; with several, connections are shared out by their
/// addresses and the first worker takes the datagrams (which share
/// state: DNS names, SMS parts, multicast repeats) and reports what
/// concerns the capture once (notes on key material).
struct Part<'a> {
    flows: FlowTable<crate::app::Conn>,
    app: AppLayer,
    names: Names,
    reqs: Requests<'a>,
    first: bool,
}

impl<'a> Part<'a> {
    fn new(cfg: &'a ScanConfig, capture: &str, keys: KeyStore, of: usize, first: bool) -> Self {
        // Limits on all connections together are shared out.
        let share = |n: usize| (n / of.max(1)).max(1);
        let mut limits = cfg.flow_limits;
        limits.max_flows = share(limits.max_flows);
        limits.early_total = share(limits.early_total);
        let mut app_cfg = cfg.app;
        app_cfg.max_held = share(app_cfg.max_held);
        app_cfg.tls.max_held_total = share(app_cfg.tls.max_held_total);
        app_cfg.tls.max_partial_total = share(app_cfg.tls.max_partial_total);
        let mut app = AppLayer::new(app_cfg, keys);
        app.out.keep_binary = cfg.engine.has_profile();
        Part { flows: FlowTable::new(limits), app, names: Names::default(), reqs: Requests::new(cfg, capture), first }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &crate::decode::TcpSegment<'_>,
        frame: u64,
        ts: crate::util::Timestamp,
        app: Option<&Arc<AppRef>>,
    ) {
        self.reqs.key = [frame, step::PACKET, 0, 0];
        self.app.now = frame;
        self.flows.segment_from(src, dst, seg, frame, ts, app, &mut self.app);
        drain(&mut self.app.out, &mut self.reqs, &self.names);
    }

    fn udp(&mut self, d: Datagram<'_>) {
        self.reqs.key = [d.frame, step::PACKET, 0, 0];
        self.app.now = d.frame;
        self.app.datagram(d, &mut self.names);
        self.reqs.udp = true;
        drain(&mut self.app.out, &mut self.reqs, &self.names);
        self.reqs.udp = false;
    }

    /// Closes the connections idle at `frame`.
    fn sweep(&mut self, frame: u64, ts: crate::util::Timestamp) {
        self.app.now = frame;
        let (reqs, names) = (&mut self.reqs, &self.names);
        self.flows.sweep(ts, &mut self.app, &mut |app, first| {
            reqs.key = [frame, step::SWEEP, first, 0];
            drain(&mut app.out, reqs, names);
        });
    }

    /// Key material found in the capture at `frame`.
    fn secrets(&mut self, frame: u64, text: &[u8]) {
        self.app.now = frame;
        let (reqs, names) = (&mut self.reqs, &self.names);
        let notes = self.app.add_secrets(text, &mut |out, [closed, first]| {
            reqs.key = [frame, step::SECRETS, closed, first];
            drain(out, reqs, names);
        });
        if self.first {
            let notes: Vec<String> = notes.into_iter().map(|n| format!("embedded key log: {n}")).collect();
            self.reqs.key = [frame, step::SECRET_NOTES, 0, 0];
            self.reqs.note(frame, &notes);
        }
    }

    /// End of the capture: every connection closes; the part's counters.
    fn finish(&mut self) -> crate::finding::FileStats {
        let (reqs, names) = (&mut self.reqs, &self.names);
        self.flows.finish_all_with(&mut self.app, |app, first| {
            reqs.key = [END, step::CLOSED, first, 0];
            drain(&mut app.out, reqs, names);
        });
        self.app.finish(&mut |out, parked| {
            reqs.key = match parked {
                None => [END, step::HELD, 0, 0],
                Some([closed, first]) => [END, step::PARKED, closed, first],
            };
            drain(out, reqs, names);
        });
        let mut s = std::mem::take(&mut self.reqs.rep.stats);
        let flows = &mut self.flows.stats;
        s.flows = flows.flows;
        s.retransmitted_bytes = flows.retransmitted_bytes;
        s.overlap_conflicts = flows.overlap_conflicts;
        s.flows_evicted = flows.evicted_idle + flows.evicted_full;
        s.reorder_limit_hits = flows.early_total_limit_hits + flows.early_limit_hits;
        s.attributed_flows = flows.attributed;
        s.app_conflicts = flows.app_conflicts;
        // Kept apart: merged in frame order (see `absorb_stats`).
        s.notes = std::mem::take(&mut flows.conflict_notes);
        let a = std::mem::take(&mut self.app.out.stats);
        s.tls_server_names = a.tls_names;
        s.held_limit_hits = a.held_limit_hits;
        let (g, c) = self.app.gsmtap_stats();
        let ims = self.app.out.ims_sms.stats();
        s.sms_incomplete = c.partial + ims.partial;
        s.sms_limit_evictions = c.limit_evictions + ims.limit_evictions;
        s.gsmtap_datagrams = g.datagrams;
        s.gsmtap_not_decoded = g.other_types + g.other_channels + g.l3_not_decoded;
        s.tls = a.tls;
        s.quic_server_names = a.quic_names;
        s.http2 = a.http2;
        // Every worker reads every key block: counted once.
        s.tls.embedded_keys = if self.first { self.app.keys.embedded_entries } else { 0 };
        s.not_inspected = NotInspected {
            http2_bytes: a.http2_bytes,
            quic_packets: a.quic_packets,
            quic_bytes: a.quic_bytes,
            response_bytes: a.response_bytes,
            other_tcp_bytes: a.other_bytes,
            udp_bytes: a.udp_bytes,
            gaps: flows.gaps,
            gap_bytes: flows.gap_bytes,
            ..NotInspected::default()
        };
        s
    }
}

/// Adds a worker's counters to the capture's. Lists of names are merged
/// sorted (which worker saw a name first is not the capture's order);
/// the flow layer's notes (`from.notes`) are kept for [`finish_notes`].
fn absorb_stats(
    s: &mut crate::finding::FileStats,
    from: crate::finding::FileStats,
    conflicts: &mut Vec<(u64, String)>,
) {
    use crate::finding::FileStats;
    let FileStats {
        format: _,
        frames: _,
        bytes: _,
        flows,
        requests,
        link_types: _,
        encapsulated_frames: _,
        reassembled_datagrams: _,
        retransmitted_bytes,
        overlap_conflicts,
        flows_evicted,
        reorder_limit_hits,
        held_limit_hits,
        tls_server_names,
        quic_server_names,
        tls,
        http2,
        not_inspected,
        requests_with_notes,
        sms_messages,
        sms_downlink,
        sms_incomplete,
        sms_limit_evictions,
        nas_identities,
        gsmtap_datagrams,
        gsmtap_not_decoded,
        sip_requests,
        sip_responses,
        attributed_frames,
        attributed_flows,
        app_conflicts,
        app_filtered,
        attribution_notes,
        findings,
        emails_set_aside,
        test_device_imeis,
        requests_with_findings,
        payloads_with_findings,
        notes,
        elapsed_secs: _,
    } = from;
    s.flows += flows;
    s.requests += requests;
    s.retransmitted_bytes += retransmitted_bytes;
    s.overlap_conflicts += overlap_conflicts;
    s.flows_evicted += flows_evicted;
    s.reorder_limit_hits += reorder_limit_hits;
    s.held_limit_hits += held_limit_hits;
    merge_names(&mut s.tls_server_names, tls_server_names);
    merge_names(&mut s.quic_server_names, quic_server_names);
    merge_names(&mut s.tls.server_names, tls.server_names);
    let t = &mut s.tls;
    t.connections += tls.connections;
    t.decrypted += tls.decrypted;
    t.partly += tls.partly;
    t.client_bytes += tls.client_bytes;
    t.server_bytes += tls.server_bytes;
    for (a, b) in [
        (&mut t.no_key, tls.no_key),
        (&mut t.bad_key, tls.bad_key),
        (&mut t.midstream, tls.midstream),
        (&mut t.gap, tls.gap),
        (&mut t.limit, tls.limit),
        (&mut t.malformed, tls.malformed),
        (&mut t.handshake_only, tls.handshake_only),
    ] {
        a.0 += b.0;
        a.1 += b.1;
    }
    for (name, c, b) in tls.unsupported {
        match t.unsupported.iter_mut().find(|u| u.0 == name) {
            Some(u) => {
                u.1 += c;
                u.2 += b;
            }
            None => t.unsupported.push((name, c, b)),
        }
    }
    t.unsupported.sort_by(|a, b| a.0.cmp(&b.0));
    t.bad_records += tls.bad_records;
    t.embedded_keys += tls.embedded_keys;
    t.parked_limit += tls.parked_limit;
    let h = &mut s.http2;
    h.connections += http2.connections;
    h.streams += http2.streams;
    h.streams_over_limit += http2.streams_over_limit;
    h.bad_blocks += http2.bad_blocks;
    h.unknown_frame_bytes += http2.unknown_frame_bytes;
    let n = &mut s.not_inspected;
    n.http2_bytes += not_inspected.http2_bytes;
    n.quic_packets += not_inspected.quic_packets;
    n.quic_bytes += not_inspected.quic_bytes;
    n.response_bytes += not_inspected.response_bytes;
    n.other_tcp_bytes += not_inspected.other_tcp_bytes;
    n.udp_bytes += not_inspected.udp_bytes;
    n.gaps += not_inspected.gaps;
    n.gap_bytes += not_inspected.gap_bytes;
    s.requests_with_notes += requests_with_notes;
    s.sms_messages += sms_messages;
    s.sms_downlink += sms_downlink;
    s.sms_incomplete += sms_incomplete;
    s.sms_limit_evictions += sms_limit_evictions;
    s.nas_identities += nas_identities;
    s.gsmtap_datagrams += gsmtap_datagrams;
    s.gsmtap_not_decoded += gsmtap_not_decoded;
    s.sip_requests += sip_requests;
    s.sip_responses += sip_responses;
    s.attributed_frames += attributed_frames;
    s.attributed_flows += attributed_flows;
    s.app_conflicts += app_conflicts;
    s.app_filtered += app_filtered;
    s.attribution_notes += attribution_notes;
    s.findings += findings;
    s.emails_set_aside += emails_set_aside;
    s.test_device_imeis += test_device_imeis;
    s.requests_with_findings += requests_with_findings;
    s.payloads_with_findings += payloads_with_findings;
    conflicts.extend(notes);
}

/// Adds distinct names to a list kept sorted, at most
/// [`MAX_SERVER_NAMES`](crate::app::MAX_SERVER_NAMES).
fn merge_names(into: &mut Vec<String>, from: Vec<String>) {
    into.extend(from);
    into.sort_unstable();
    into.dedup();
    into.truncate(crate::app::MAX_SERVER_NAMES);
}

/// The capture's notes: those of its parts in order, then the first of
/// the flow layer's (the connections attributed to two apps), by frame.
fn finish_notes(s: &mut crate::finding::FileStats, notes: Vec<(u64, String)>, mut conflicts: Vec<(u64, String)>) {
    s.notes = notes;
    conflicts.sort_by_key(|(frame, _)| *frame);
    conflicts.truncate(crate::flow::MAX_CONFLICT_NOTES);
    for (frame, n) in conflicts {
        note(s, frame, &[n]);
    }
}

/// What reading a capture hands the workers, per frame or for all.
enum Msg {
    Tcp {
        frame: u64,
        ts: crate::util::Timestamp,
        app: Option<Arc<AppRef>>,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: crate::decode::TcpFlags,
        missing: u32,
        payload: Span,
    },
    Udp {
        frame: u64,
        ts: crate::util::Timestamp,
        app: Option<Arc<AppRef>>,
        src: SocketAddr,
        dst: SocketAddr,
        payload: Span,
    },
    /// A DNS answer the first worker reads: its names, for the others.
    Names((usize, usize)),
    Sweep(u64, crate::util::Timestamp),
    Secrets(u64, (usize, usize)),
    Named(Arc<AppRef>),
}

/// Messages for one worker and the bytes they point into: copied, or
/// in the reader's buffers.
#[derive(Default)]
struct Batch {
    msgs: Vec<Msg>,
    bytes: Vec<u8>,
    /// The reader's buffers the messages' spans are in.
    blocks: Vec<crate::capture::Shared>,
    /// What it holds, as [`held`] counts it, while the reader fills it:
    /// its copies, and the reader's buffers it was the first to point
    /// into (a buffer counts in one batch only).
    cost: usize,
    /// Takes `cost` off the reader's count in flight when the batch is
    /// done with: handed back, or dropped with a worker that stopped.
    refund: Option<Refund>,
}

/// The [`Batch::cost`] of a batch in flight, given back to the reader's
/// count when dropped: a batch lost with a stopped (or panicking) worker
/// still gives it back, so the reader never waits for it.
struct Refund {
    cost: usize,
    to: Arc<std::sync::atomic::AtomicUsize>,
}

impl Drop for Refund {
    fn drop(&mut self) {
        self.to.fetch_sub(self.cost, Ordering::AcqRel);
    }
}

/// Where a packet's payload is: `block` 0 for [`Batch::bytes`], else
/// in `Batch::blocks[block - 1]`.
#[derive(Clone, Copy)]
struct Span {
    block: u32,
    start: usize,
    end: usize,
}

impl Batch {
    fn put(&mut self, b: &[u8]) -> (usize, usize) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(b);
        (at, self.bytes.len())
    }

    /// `b`, by where it is in `block` (the reader's buffer its frame came
    /// from) when it is in it (not a datagram reassembled from fragments),
    /// else copied (nothing for an empty payload: a bare ACK does not hold
    /// a buffer).
    fn span(&mut self, block: Option<&crate::capture::Shared>, b: &[u8]) -> Span {
        if let Some(block) = block
            && !b.is_empty()
        {
            let (base, at) = (block.as_ptr() as usize, b.as_ptr() as usize);
            if at >= base && at - base + b.len() <= block.len() {
                let i = match self.blocks.iter().position(|l| Arc::ptr_eq(l, block)) {
                    Some(i) => i,
                    None => {
                        self.blocks.push(Arc::clone(block));
                        self.blocks.len() - 1
                    }
                };
                let start = at - base;
                return Span { block: i as u32 + 1, start, end: start + b.len() };
            }
        }
        let (start, end) = self.put(b);
        Span { block: 0, start, end }
    }
}

/// Frames per round: every worker gets its share of a round's frames,
/// and the reporter takes what a round made from all of them before the
/// next (so that memory stays bounded, each worker's output waits at
/// most [`ROUNDS_AHEAD`] rounds).
const ROUND_FRAMES: u64 = 2048;
/// Bytes a round brings to the workers, at most: payloads copied, and the
/// reader's buffers its payloads are the first to point into (a round of
/// large frames ends early; the rounds in flight hold a few buffers).
const ROUND_BYTES: usize = 1 << 20;

/// What a payload at `span` adds to the round's bytes: its copy, or the
/// whole buffer it is in when it is the first to point into it
/// (`last_block`, the buffer counted last: the reader's buffers come one
/// after another).
fn held(block: Option<&crate::capture::Shared>, span: Span, last_block: &mut usize) -> usize {
    match block {
        Some(b) if span.block != 0 => {
            let at = Arc::as_ptr(b) as usize;
            if std::mem::replace(last_block, at) == at { 0 } else { b.len() }
        }
        _ => span.end - span.start,
    }
}
/// Rounds a worker may run ahead of the reporter.
const ROUNDS_AHEAD: usize = 8;
/// Batches queued for each worker: enough that a worker whose rounds
/// take longer for a while does not hold the reader back from the
/// others (a shallower queue left the cores idle a tenth of the time).
const BATCHES_AHEAD: usize = 6;
/// What the batches sent and not yet handed back may hold ([`Batch::cost`]):
/// past it the reader waits for one to come back before it sends more,
/// so that rounds of large records do not fill every queue.
const IN_FLIGHT_BYTES: usize = 16 << 20;

/// What a worker hands the reporter: a round's outputs, or its last ones
/// and its counters.
enum Up {
    Round(Outs),
    Done(Outs, Box<crate::finding::FileStats>),
}

/// Outputs of one part, each with its [`Key`].
type Outs = Vec<(Key, Out)>;

/// Room kept in an emptied output buffer that goes back to its part:
/// a larger one (after a burst of findings) is let go.
const SPARE_BYTES: usize = 256 << 10;

/// Hands an emptied output buffer back to its part, unless it grew
/// past [`SPARE_BYTES`].
fn give_back(to: &mpsc::Sender<Outs>, o: Outs) {
    debug_assert!(o.is_empty());
    if o.capacity().saturating_mul(std::mem::size_of::<(Key, Out)>()) <= SPARE_BYTES {
        let _ = to.send(o);
    }
}

/// The next output buffer of a part: one handed back, else a new one.
fn next_outs(spare: &mpsc::Receiver<Outs>) -> Outs {
    spare.try_recv().unwrap_or_default()
}

/// A worker's channels.
struct Link {
    rx: mpsc::Receiver<Batch>,
    up: mpsc::SyncSender<Up>,
    back: mpsc::Sender<Batch>,
    spare: mpsc::Receiver<Outs>,
}

/// Where what is read goes: one worker on this thread, or workers on
/// their own threads fed in rounds.
enum Route<'a, 'p> {
    Here(&'p mut Part<'a>),
    Workers {
        batches: Vec<Batch>,
        to: Vec<mpsc::SyncSender<Batch>>,
        back: mpsc::Receiver<Batch>,
        up: mpsc::SyncSender<Up>,
        /// Output buffers the reporter emptied.
        spare: mpsc::Receiver<Outs>,
        /// Batches handed back, to fill again.
        idle: Vec<Batch>,
        /// [`Batch::cost`] of the batches sent and not yet done with
        /// ([`Refund`]).
        in_flight: Arc<std::sync::atomic::AtomicUsize>,
        /// Of [`Route::worker`], random per capture.
        seed: u64,
        frames: u64,
        bytes: usize,
        /// The reader's buffer last counted in `bytes` ([`held`]).
        last_block: usize,
    },
}

impl Route<'_, '_> {
    /// The worker of the connection between `a` and `b` (either way
    /// round): a seeded mix of both addresses, cheap per packet; a
    /// capture cannot aim its connections at one worker without the seed.
    fn worker(seed: u64, n: usize, a: SocketAddr, b: SocketAddr) -> usize {
        fn fold(s: SocketAddr) -> u64 {
            let ip = match s.ip() {
                std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
                std::net::IpAddr::V6(v6) => {
                    let x = u128::from(v6);
                    (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
                }
            };
            ip ^ (u64::from(s.port()) << 40)
        }
        let mut h = fold(a).wrapping_add(fold(b)) ^ seed;
        h ^= h >> 31;
        h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
        ((h >> 32) % n as u64) as usize
    }
}

/// The reader's side of a capture: frames in, packets to the workers;
/// what concerns the capture as a whole (frames, link types, errors,
/// notes, apps by frame, SLAAC addresses) stays here.
struct Reading<'a> {
    capture: String,
    reqs: Requests<'a>,
    /// DNS names as the workers know them (for SLAAC findings), when they
    /// run elsewhere.
    names: Names,
    apps: AppTable,
    errors: Vec<ErrorRecord>,
    tcp_segments: u64,
}

fn scan_opened(
    display: &str,
    opened: Result<CaptureReader, crate::capture::CaptureError>,
    cfg: &ScanConfig,
    beside: &[Vec<u8>],
    notes: Vec<String>,
    workers: usize,
    sink: &mut dyn FnMut(Event) -> bool,
) {
    let started = Instant::now();
    let mut col = Collector { hosts: BTreeMap::new(), apps: AppTable::default(), notes: Vec::new(), sink, open: true };
    for n in notes.into_iter().take(crate::finding::MAX_NOTES) {
        col.notes.push((0, n));
    }
    col.send(Event::Begin(display.to_string()));
    let capture = display.to_string();
    let mut reader = match opened {
        Ok(r) => r,
        Err(e) => {
            let mut rep = FileReport { capture: capture.clone(), ..FileReport::default() };
            rep.errors.push(error(&capture, None, e.to_string()));
            rep.stats.notes = std::mem::take(&mut col.notes);
            col.send(Event::End(Box::new(rep)));
            return;
        }
    };
    let pcapng = reader.kind() == FileKind::PcapNg;
    let mut rd = Reading {
        capture: capture.clone(),
        reqs: Requests::new(cfg, display),
        names: Names::default(),
        apps: AppTable::default(),
        errors: Vec::new(),
        tcp_segments: 0,
    };
    let mut decoder = Decoder::new();
    let mut parts_stats = Vec::new();
    let mut bytes = 0u64;
    if workers <= 1 {
        let mut part = Part::new(cfg, display, key_store(cfg, beside, pcapng), 1, true);
        let mut route = Route::Here(&mut part);
        bytes = read_all(&mut reader, &mut decoder, &mut rd, &mut route, cfg, &mut |rd, route| {
            let Route::Here(part) = route else { return false };
            col.merge(&mut [&mut rd.reqs.outs, &mut part.reqs.outs]);
            col.open
        });
        let s = part.finish();
        col.merge(&mut [&mut rd.reqs.outs, &mut part.reqs.outs]);
        parts_stats.push(s);
    } else {
        let col = &mut col;
        let parts_stats = &mut parts_stats;
        let (reader_ref, decoder_ref, rd_ref, bytes_ref) = (&mut reader, &mut decoder, &mut rd, &mut bytes);
        std::thread::scope(|sc| {
            let (up_tx, up_rx) = mpsc::sync_channel::<Up>(ROUNDS_AHEAD);
            let (back_tx, back_rx) = mpsc::channel::<Batch>();
            let mut to = Vec::new();
            let mut ups = Vec::new();
            // Emptied output buffers back to the reader (first), then to
            // each worker.
            let (spare_tx, spare_rx) = mpsc::channel::<Outs>();
            let mut spares = vec![spare_tx];
            for w in 0..workers {
                let (tx, rx) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
                let (wtx, wrx) = mpsc::sync_channel::<Up>(ROUNDS_AHEAD);
                let (stx, srx) = mpsc::channel::<Outs>();
                to.push(tx);
                ups.push(wrx);
                spares.push(stx);
                let back = back_tx.clone();
                let keys = key_store(cfg, beside, pcapng);
                let link = Link { rx, up: wtx, back, spare: srx };
                sc.spawn(move || work(cfg, display, keys, workers, w, link));
            }
            drop(back_tx);
            // The reader runs on its own thread; this one reports.
            sc.spawn(move || {
                let mut route = Route::Workers {
                    batches: (0..workers).map(|_| Batch::default()).collect(),
                    to,
                    back: back_rx,
                    up: up_tx,
                    spare: spare_rx,
                    idle: Vec::new(),
                    in_flight: Arc::default(),
                    seed: {
                        use std::hash::BuildHasher;
                        std::collections::hash_map::RandomState::new().hash_one(0u8)
                    },
                    frames: 0,
                    bytes: 0,
                    last_block: 0,
                };
                *bytes_ref = read_all(reader_ref, decoder_ref, rd_ref, &mut route, cfg, &mut |rd, route| {
                    round(rd, route, false)
                });
                round(rd_ref, &mut route, true);
            });
            // Round by round: the reader's outputs, then each worker's,
            // merged where they are; the emptied buffers go back to be
            // filled again.
            let mut got: Vec<Outs> = Vec::with_capacity(workers + 1);
            while let Ok(Up::Round(outs)) = up_rx.recv() {
                got.push(outs);
                for w in &ups {
                    match w.recv() {
                        Ok(Up::Round(o)) => got.push(o),
                        _ => return,
                    }
                }
                col.merge(&mut got.iter_mut().collect::<Vec<_>>());
                for (o, tx) in got.drain(..).zip(&spares) {
                    give_back(tx, o);
                }
                if !col.open {
                    return;
                }
            }
            // The reader is done: each worker's last outputs.
            for w in &ups {
                match w.recv() {
                    Ok(Up::Done(o, s)) => {
                        got.push(o);
                        parts_stats.push(*s);
                    }
                    _ => return,
                }
            }
            col.merge(&mut got.iter_mut().collect::<Vec<_>>());
        });
    }
    col.merge(&mut [&mut rd.reqs.outs]);
    unsupported_link(&mut rd.errors, &capture, Some(decoder.stats.unsupported_interfaces), None);
    let mut rep =
        FileReport { capture: capture.clone(), errors: std::mem::take(&mut rd.errors), ..FileReport::default() };
    rep.stats = std::mem::take(&mut rd.reqs.rep.stats);
    let mut conflicts = Vec::new();
    for s in parts_stats {
        absorb_stats(&mut rep.stats, s, &mut conflicts);
    }
    finish_notes(&mut rep.stats, std::mem::take(&mut col.notes), conflicts);
    rep.hosts = std::mem::take(&mut col.hosts).into_values().collect();
    let mut apps = std::mem::take(&mut rd.apps);
    apps.absorb(std::mem::take(&mut col.apps));
    rep.apps = apps.list;
    fold_named(&mut rep.apps);
    if !cfg.apps.is_empty() {
        rep.apps.retain(|a| cfg.apps.iter().any(|g| a.app.matches(g)));
    }
    let d = &decoder.stats;
    let s = &mut rep.stats;
    s.format = match reader.kind() {
        FileKind::Pcap => "pcap",
        FileKind::PcapNg => "pcapng",
    }
    .to_string();
    if reader.is_gzip() {
        s.format.push_str("+gzip");
    }
    s.frames = reader.frames();
    s.bytes = bytes;
    s.link_types = d.by_link.iter().map(|(l, n)| (link_name(*l), *n)).collect();
    s.encapsulated_frames = d.encapsulated;
    s.reassembled_datagrams = d.reassembled;
    s.overlap_conflicts += decoder.defrag.stats.conflicts;
    s.elapsed_secs = started.elapsed().as_secs_f64();
    let (tls_connections, tls_bytes) = s.tls.not_decrypted();
    let n = &mut s.not_inspected;
    n.unsupported_link_frames = d.unsupported;
    n.fragments_incomplete = d.ip_fragments.saturating_sub(decoder.defrag.stats.fragments_used);
    n.truncated_frames = d.truncated;
    n.malformed_frames = d.malformed + d.too_deep;
    n.wifi_protected_frames = d.wifi_protected;
    n.other_protocol_frames = d.not_ip + d.other_ip;
    n.tls_connections = tls_connections;
    n.tls_bytes = tls_bytes;
    col.send(Event::End(Box::new(rep)));
}

/// Reads every frame, decodes it and hands its packet on; `flush` is
/// called after each frame (returns false to stop). Returns the bytes
/// read.
fn read_all(
    reader: &mut CaptureReader,
    decoder: &mut Decoder,
    rd: &mut Reading<'_>,
    route: &mut Route<'_, '_>,
    cfg: &ScanConfig,
    flush: &mut dyn FnMut(&mut Reading<'_>, &mut Route<'_, '_>) -> bool,
) -> u64 {
    let mut bytes = 0u64;
    let mut reported = 0u64;
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let n = reader.frames() + 1;
                rd.errors.push(error(&rd.capture, Some(n), e.to_string()));
                break;
            }
        };
        bytes += frame.data.len() as u64;
        if let Some(p) = &cfg.progress
            && bytes - reported >= PROGRESS_STEP
        {
            p.bytes.fetch_add(bytes - reported, Ordering::Relaxed);
            reported = bytes;
        }
        let number = frame.number;
        if let Some(a) = frame.app {
            rd.reqs.rep.stats.attributed_frames += 1;
            rd.apps.frame(a, frame.ts);
        }
        match decoder.decode(&frame) {
            Decoded::Packet(p) => {
                let (src_port, dst_port) = match &p.transport {
                    Transport::Tcp(seg) => (seg.src_port, seg.dst_port),
                    Transport::Udp(u) => (u.src_port, u.dst_port),
                };
                let (src, dst) = (SocketAddr::new(p.src, src_port), SocketAddr::new(p.dst, dst_port));
                if p.src.is_ipv6() {
                    rd.reqs.key = [number, step::READER, 0, 0];
                    let names = match route {
                        Route::Here(part) => &part.names,
                        Route::Workers { .. } => &rd.names,
                    };
                    rd.reqs.slaac(src, dst, (number, frame.ts), frame.app, names);
                }
                match p.transport {
                    Transport::Tcp(seg) => {
                        rd.tcp_segments += 1;
                        let sweep = rd.tcp_segments.is_multiple_of(crate::flow::SWEEP_EVERY);
                        match route {
                            Route::Here(part) => {
                                if sweep {
                                    part.sweep(number, frame.ts);
                                }
                                part.tcp(src, dst, &seg, number, frame.ts, frame.app);
                            }
                            Route::Workers { batches, seed, bytes, last_block, .. } => {
                                if sweep {
                                    for b in batches.iter_mut() {
                                        b.msgs.push(Msg::Sweep(number, frame.ts));
                                    }
                                }
                                // To a multicast or broadcast address: to the
                                // first worker, which has every such
                                // announcement (one finding per sender and
                                // group, whatever its source port).
                                let w = if crate::finding::local_only(p.dst) || crate::finding::local_only(p.src) {
                                    0
                                } else {
                                    Route::worker(*seed, batches.len(), src, dst)
                                };
                                let b = &mut batches[w];
                                let payload = b.span(frame.block, seg.payload);
                                let cost = held(frame.block, payload, last_block);
                                *bytes += cost;
                                b.cost += cost;
                                b.msgs.push(Msg::Tcp {
                                    frame: number,
                                    ts: frame.ts,
                                    app: frame.app.cloned(),
                                    src,
                                    dst,
                                    seq: seg.seq,
                                    ack: seg.ack,
                                    flags: seg.flags,
                                    missing: seg.missing,
                                    payload,
                                });
                            }
                        }
                    }
                    Transport::Udp(u) => match route {
                        Route::Here(part) => part.udp(Datagram {
                            src,
                            dst,
                            payload: u.payload,
                            frame: number,
                            ts: frame.ts,
                            app: frame.app,
                        }),
                        Route::Workers { batches, bytes, last_block, .. } => {
                            if crate::app::datagram::teaches_names(src_port, dst_port) {
                                rd.names.learn(u.payload);
                                for b in batches.iter_mut().skip(1) {
                                    let at = b.put(u.payload);
                                    b.msgs.push(Msg::Names(at));
                                }
                            }
                            let b = &mut batches[0];
                            let payload = b.span(frame.block, u.payload);
                            let cost = held(frame.block, payload, last_block);
                            *bytes += cost;
                            b.cost += cost;
                            b.msgs.push(Msg::Udp {
                                frame: number,
                                ts: frame.ts,
                                app: frame.app.cloned(),
                                src,
                                dst,
                                payload,
                            });
                        }
                    },
                }
            }
            Decoded::Unsupported { first } => unsupported_link(&mut rd.errors, &rd.capture, first, Some(&frame)),
            Decoded::Skipped => {}
        }
        if reader.has_news() {
            take_capture_notes(reader, rd, route, number);
        }
        if let Route::Workers { frames, .. } = route {
            *frames += 1;
        }
        if !flush(rd, route) {
            break;
        }
    }
    // Blocks after the last frame (notes, key material).
    let last = reader.frames();
    take_capture_notes(reader, rd, route, last);
    if let Some(p) = &cfg.progress {
        p.bytes.fetch_add(bytes - reported, Ordering::Relaxed);
    }
    bytes
}

/// Ends a round when it is full (or `last`): each worker gets its batch,
/// the reporter the reader's outputs. False once the reporter stopped.
fn round(rd: &mut Reading<'_>, route: &mut Route<'_, '_>, last: bool) -> bool {
    let Route::Workers { batches, to, back, up, spare, idle, in_flight, frames, bytes, .. } = route else {
        return true;
    };
    if !last && *frames < ROUND_FRAMES && *bytes < ROUND_BYTES {
        return true;
    }
    *frames = 0;
    *bytes = 0;
    idle.extend(back.try_iter());
    // Past the budget, wait for batches to be done with: the workers
    // hand them back without waiting for the reporter, and one lost with
    // a worker that stopped gives its cost back as it is dropped (hence
    // the count is read again every few milliseconds).
    while in_flight.load(Ordering::Acquire) > IN_FLIGHT_BYTES {
        match back.recv_timeout(std::time::Duration::from_millis(5)) {
            Ok(b) => idle.push(b),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        }
    }
    for (b, tx) in batches.iter_mut().zip(to.iter()) {
        let mut full = std::mem::replace(b, idle.pop().unwrap_or_default());
        // The cost moves to the refund: the batch starts from nothing
        // when it comes back.
        let cost = std::mem::take(&mut full.cost);
        in_flight.fetch_add(cost, Ordering::AcqRel);
        full.refund = Some(Refund { cost, to: Arc::clone(in_flight) });
        if tx.send(full).is_err() {
            return false;
        }
    }
    up.send(Up::Round(std::mem::replace(&mut rd.reqs.outs, next_outs(spare)))).is_ok()
}

/// A worker's thread: its batches in, what they made out, round by round.
fn work(cfg: &ScanConfig, capture: &str, keys: KeyStore, of: usize, index: usize, link: Link) {
    let Link { rx, up, back, spare } = link;
    let mut part = Part::new(cfg, capture, keys, of, index == 0);
    for mut batch in rx {
        let Batch { msgs, bytes, blocks, .. } = &mut batch;
        // Read where they are (a message is over a hundred bytes: not
        // moved out one by one), then dropped together.
        for m in msgs.iter() {
            let at = |(a, b): (usize, usize)| &bytes[a..b];
            let span = |s: Span| match s.block {
                0 => &bytes[s.start..s.end],
                i => &blocks[i as usize - 1][s.start..s.end],
            };
            match m {
                Msg::Tcp { frame, ts, app, src, dst, seq, ack, flags, missing, payload } => {
                    let seg = crate::decode::TcpSegment {
                        src_port: src.port(),
                        dst_port: dst.port(),
                        seq: *seq,
                        ack: *ack,
                        flags: *flags,
                        payload: span(*payload),
                        missing: *missing,
                    };
                    part.tcp(*src, *dst, &seg, *frame, *ts, app.as_ref());
                }
                Msg::Udp { frame, ts, app, src, dst, payload } => part.udp(Datagram {
                    src: *src,
                    dst: *dst,
                    payload: span(*payload),
                    frame: *frame,
                    ts: *ts,
                    app: app.as_ref(),
                }),
                Msg::Names(p) => part.names.learn(at(*p)),
                Msg::Sweep(frame, ts) => part.sweep(*frame, *ts),
                Msg::Secrets(frame, p) => part.secrets(*frame, at(*p)),
                Msg::Named(a) => part.reqs.learn_name(Arc::clone(a)),
            }
        }
        msgs.clear();
        batch.bytes.clear();
        // The reader may write those buffers again once no batch holds them.
        batch.blocks.clear();
        batch.refund = None;
        let _ = back.send(batch);
        if up.send(Up::Round(std::mem::replace(&mut part.reqs.outs, next_outs(&spare)))).is_err() {
            return;
        }
    }
    let s = part.finish();
    let _ = up.send(Up::Done(std::mem::take(&mut part.reqs.outs), Box::new(s)));
}

/// Moves the capture reader's notes, app names and embedded key logs on
/// (to the workers, when `route` is given).
fn take_capture_notes(reader: &mut CaptureReader, rd: &mut Reading<'_>, route: &mut Route<'_, '_>, frame: u64) {
    rd.reqs.key = [frame, step::NOTES, 0, 0];
    for n in reader.take_notes() {
        let message = format!("offset {}: {}", n.offset, n.message);
        if n.attribution {
            // Every packet was inspected: a note on the capture, not an error.
            rd.reqs.rep.stats.attribution_notes += 1;
            rd.reqs.note(n.frame.unwrap_or(frame), &[message]);
        } else {
            rd.errors.push(error(&rd.capture, n.frame, message));
        }
    }
    for a in reader.take_named_apps() {
        match route {
            Route::Here(part) => part.reqs.learn_name(a.clone()),
            Route::Workers { batches, .. } => {
                for b in batches.iter_mut() {
                    b.msgs.push(Msg::Named(a.clone()));
                }
            }
        }
        rd.reqs.learn_name(a);
    }
    for text in reader.take_secrets() {
        match route {
            Route::Here(part) => part.secrets(frame, &text),
            Route::Workers { batches, .. } => {
                for b in batches.iter_mut() {
                    let at = b.put(&text);
                    b.msgs.push(Msg::Secrets(frame, at));
                }
            }
        }
    }
}

/// Reports a link type not supported on an interface: the first
/// [`MAX_NOTES_PER_KIND`](crate::capture::MAX_NOTES_PER_KIND) one by one
/// (`first` counts them, [`Decoded::Unsupported`]); after the last frame
/// (`frame` is `None`, `first` the count of all), one record saying how
/// many more there were.
fn unsupported_link(
    errors: &mut Vec<ErrorRecord>,
    capture: &str,
    first: Option<u64>,
    frame: Option<&crate::capture::Frame<'_>>,
) {
    use crate::capture::{MAX_NOTES_PER_KIND, thousands};
    let Some(n) = first else { return };
    match frame {
        Some(f) if n <= MAX_NOTES_PER_KIND => {
            let msg = format!(
                "{} on interface {} is not supported: its frames are not inspected",
                link_name(f.link),
                f.interface
            );
            errors.push(error(capture, Some(f.number), msg));
        }
        None if n > MAX_NOTES_PER_KIND => {
            let capped = if n >= crate::decode::MAX_UNSUPPORTED_TRACKED as u64 { " or more" } else { "" };
            let msg = format!(
                "and {} more interfaces with a link type that is not supported: {} in all{capped}, \
                 the first {MAX_NOTES_PER_KIND} listed one by one; their frames are not inspected",
                thousands(n - MAX_NOTES_PER_KIND),
                thousands(n)
            );
            errors.push(error(capture, None, msg));
        }
        _ => {}
    }
}

/// Hands what the application layer produced to extraction.
fn drain(out: &mut crate::app::Emit, reqs: &mut Requests<'_>, names: &Names) {
    // Most segments complete nothing.
    if out.requests.is_empty() && out.streams.is_empty() && out.sip.is_empty() && out.telephony.is_empty() {
        return;
    }
    for mut req in out.requests.drain(..) {
        reqs.name(&mut req.app);
        reqs.take(req, names);
    }
    for mut p in out.streams.drain(..) {
        reqs.name(&mut p.app);
        reqs.stream(p, names);
    }
    for mut m in out.sip.drain(..) {
        reqs.name(&mut m.app);
        reqs.sip(m);
    }
    for mut t in out.telephony.drain(..) {
        reqs.name(&mut t.app);
        reqs.telephony(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_split_as_str_split_does() {
        let parts = ["a", "=", "&", "é", "%", "&&", ""];
        let mut x = 0x51_7cc1_b727_220au64;
        for _ in 0..20_000 {
            crate::util::xorshift(&mut x);
            let q: String = (0..x % 8).map(|i| parts[((x >> (i * 3)) % parts.len() as u64) as usize]).collect();
            assert_eq!(query_pairs(&q).collect::<Vec<_>>(), q.split('&').collect::<Vec<_>>(), "{q:?}");
        }
    }

    /// The merge gives what a stable sort of the parts one after another
    /// gives, whether each part is in order or not, and leaves the parts
    /// empty.
    #[test]
    fn merging_in_place_is_a_stable_sort_of_the_parts_in_turn() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| crate::util::xorshift(&mut x) % n;
        for _ in 0..2_000 {
            let n_parts = 1 + next(5) as usize;
            let mut parts: Vec<Outs> = Vec::new();
            let mut all: Vec<(Key, String)> = Vec::new();
            for p in 0..n_parts {
                let len = next(12) as usize;
                let sorted = next(3) != 0;
                let mut keys: Vec<Key> = (0..len).map(|_| [next(6), next(2), 0, 0]).collect();
                if sorted {
                    keys.sort();
                }
                let mut part = Vec::new();
                for (i, k) in keys.into_iter().enumerate() {
                    let label = format!("{p}/{i}");
                    all.push((k, label.clone()));
                    part.push((k, Out::Event(Event::Begin(label))));
                }
                parts.push(part);
            }
            all.sort_by_key(|(k, _)| *k);
            let want: Vec<String> = all.into_iter().map(|(_, l)| l).collect();
            let mut got: Vec<String> = Vec::new();
            let mut sink = |e: Event| {
                if let Event::Begin(l) = e {
                    got.push(l);
                }
                true
            };
            let mut col = Collector {
                hosts: BTreeMap::new(),
                apps: AppTable::default(),
                notes: Vec::new(),
                sink: &mut sink,
                open: true,
            };
            col.merge(&mut parts.iter_mut().collect::<Vec<_>>());
            drop(col);
            assert_eq!(got, want);
            assert!(parts.iter().all(Vec::is_empty));
        }
    }
}
