//! One self-contained HTML page for a researcher: summary cards, a
//! timeline of uploads per destination (SVG drawn here), a matrix of
//! kinds by destination, the leak table (sortable, each leak expandable
//! to a sample of its requests), and the captures read.
//!
//! Input: the same stream as every reporter. Output: one file written at
//! [`Reporter::finish`], with inline CSS and a few lines of plain
//! JavaScript (sorting); nothing is loaded from anywhere.
//!
//! What it keeps is bounded, never all findings: the distinct leaks
//! ([`LeakTable`] per capture, at most [`MAX_PAGE_LEAKS`] across the run),
//! the first [`SAMPLES`] findings of each leak, per destination a
//! histogram of upload times that coarsens itself past [`MAX_BUCKETS`]
//! marks, and counts by kind and destination for at most [`MAX_ROWS`]
//! destinations (the rest under [`OTHER_HOSTS`]).
//!
//! Escaping: no template crate. Markup goes through [`Html`], whose only
//! way to write unescaped text takes `&'static str` (literals of this
//! file); everything else, capture names, hosts, paths, values, is
//! escaped for text and attributes alike, after [`Privacy`] masked it.
//! A page of fixed layout did not justify a proc-macro dependency (maud)
//! on the build, and the type keeps the one rule that matters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use super::leaks::{Leak, LeakTable};
use super::short_time;
use super::{OTHER_HOSTS, Privacy, ReportOptions, Reporter, Summary};
use crate::finding::{FileReport, Finding, RequestRecord, Severity};
use crate::util::Timestamp;

/// Leaks listed in the page across all captures; further ones are
/// counted, not listed.
pub const MAX_PAGE_LEAKS: usize = 2_000;
/// Requests sampled per leak (its first findings).
pub const SAMPLES: usize = 20;
/// Destinations with their own row in the timeline and matrix.
pub const MAX_ROWS: usize = 200;
/// Marks per destination row: past this the row's buckets double.
pub const MAX_BUCKETS: usize = 512;
/// Timeline rows drawn (the most uploads first).
const PLOT_ROWS: usize = 40;
/// Captures listed in the captures table.
const MAX_CAPTURES: usize = 1_000;

/// HTML under construction: escaped unless the text is a literal.
#[derive(Default)]
pub struct Html(String);

/// Numbers written as they are (no escaping needed).
pub trait Number: std::fmt::Display {}
impl Number for u64 {}
impl Number for usize {}
impl Number for i64 {}
impl Number for u32 {}

impl Html {
    /// Markup: only a literal of the program can be written unescaped.
    pub fn raw(&mut self, s: &'static str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    /// Text, escaped for an element's content or a quoted attribute.
    pub fn text(&mut self, s: &str) -> &mut Self {
        escape_into(&mut self.0, s);
        self
    }

    pub fn num(&mut self, n: impl Number) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    /// A coordinate, to a tenth.
    fn coord(&mut self, x: f64) -> &mut Self {
        let x = if x.is_finite() { x } else { 0.0 };
        let _ = write!(self.0, "{x:.1}");
        self
    }

    /// ` name="value"`, the value escaped.
    pub fn attr(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.0.push(' ');
        self.0.push_str(name);
        self.0.push_str("=\"");
        escape_into(&mut self.0, value);
        self.0.push('"');
        self
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `&`, `<`, `>`, `"` and `'` as character references.
pub fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Counts of uploads over time, in buckets of `width` nanoseconds (1 ms
/// doubled as often as needed to keep at most [`MAX_BUCKETS`]).
#[derive(Clone, Debug)]
struct Histogram {
    width: i128,
    buckets: BTreeMap<i128, u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { width: 1_000_000, buckets: BTreeMap::new(), total: 0 }
    }
}

fn nanos(t: Timestamp) -> i128 {
    i128::from(t.secs) * 1_000_000_000 + i128::from(t.nanos)
}

/// The inverse of [`nanos`] (0 for a time outside `i64` seconds).
fn from_nanos(t: i128) -> Timestamp {
    let secs = i64::try_from(t.div_euclid(1_000_000_000)).unwrap_or(0);
    Timestamp::new(secs, u32::try_from(t.rem_euclid(1_000_000_000)).unwrap_or(0))
}

impl Histogram {
    fn add(&mut self, t: Timestamp) {
        self.total = self.total.saturating_add(1);
        *self.buckets.entry(nanos(t).div_euclid(self.width)).or_default() += 1;
        while self.buckets.len() > MAX_BUCKETS {
            self.width = self.width.saturating_mul(2);
            let old = std::mem::take(&mut self.buckets);
            for (k, n) in old {
                let e = self.buckets.entry(k.div_euclid(2)).or_default();
                *e = e.saturating_add(n);
            }
        }
    }

    /// Each bucket's middle time and count.
    fn marks(&self) -> impl Iterator<Item = (i128, u64)> + '_ {
        self.buckets.iter().map(|(k, n)| (k.saturating_mul(self.width).saturating_add(self.width / 2), *n))
    }
}

/// One finding of a leak, as its expansion lists it.
#[derive(Clone, Debug)]
struct Sample {
    frame: u64,
    time: Timestamp,
    src: SocketAddr,
    dst: SocketAddr,
    method: Option<Arc<str>>,
    uri: Option<Arc<str>>,
    uri_masked: Option<Arc<str>>,
    value: String,
}

impl Sample {
    fn of(f: &Finding) -> Sample {
        Sample {
            frame: f.frame,
            time: f.time,
            src: f.src,
            dst: f.dst,
            method: f.method.clone(),
            uri: f.uri.clone(),
            uri_masked: f.uri_masked.clone(),
            value: f.value.clone(),
        }
    }
}

/// A leak kept for the page, with its capture and sampled requests.
struct PageLeak {
    capture: usize,
    leak: Leak,
    samples: Vec<Sample>,
}

/// A capture's line in the captures table.
struct CaptureRow {
    name: String,
    frames: u64,
    requests: u64,
    findings: u64,
    leaks: usize,
    not_inspected: Option<String>,
    error: Option<String>,
}

pub struct HtmlReporter<W: Write> {
    out: W,
    p: Privacy,
    /// The capture being read: its leaks and their samples.
    table: LeakTable,
    samples: Vec<Vec<Sample>>,
    capture: String,
    /// The last request counted as an upload: (frame, source, stream).
    last_upload: Option<(u64, SocketAddr, Option<u32>)>,
    captures: Vec<String>,
    rows: Vec<CaptureRow>,
    leaks: Vec<PageLeak>,
    /// Distinct leaks in all captures (listed or not), by severity.
    leak_counts: [u64; 3],
    untabled: u64,
    /// Uploads carrying identifiers per destination, over time.
    timeline: BTreeMap<String, Histogram>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// Findings by destination, then kind.
    matrix: BTreeMap<String, BTreeMap<String, u64>>,
    /// Errors of finding the inputs, the first [`MAX_INPUT_ERRORS`].
    input_errors: Vec<String>,
}

/// Errors of finding the inputs listed.
const MAX_INPUT_ERRORS: usize = 20;

impl<W: Write> HtmlReporter<W> {
    pub fn new(out: W, opts: ReportOptions) -> Self {
        HtmlReporter {
            out,
            p: Privacy::new(opts),
            table: LeakTable::default(),
            samples: Vec::new(),
            capture: String::new(),
            last_upload: None,
            captures: Vec::new(),
            rows: Vec::new(),
            leaks: Vec::new(),
            leak_counts: [0; 3],
            untabled: 0,
            timeline: BTreeMap::new(),
            first: None,
            last: None,
            matrix: BTreeMap::new(),
            input_errors: Vec::new(),
        }
    }
}

/// The key a destination is counted under in a map of at most
/// [`MAX_ROWS`].
fn row_key<V>(map: &BTreeMap<String, V>, host: &str) -> String {
    if map.len() >= MAX_ROWS && !map.contains_key(host) { OTHER_HOSTS.to_string() } else { host.to_string() }
}

impl<W: Write> Reporter for HtmlReporter<W> {
    fn begin(&mut self, capture: &str) -> io::Result<()> {
        self.capture = capture.to_string();
        self.table = LeakTable::default();
        self.samples.clear();
        self.last_upload = None;
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.p.learn(f);
        if let Some(i) = self.table.add(f)
            && i < MAX_PAGE_LEAKS
        {
            if self.samples.len() <= i {
                self.samples.resize_with(i + 1, Vec::new);
            }
            if self.samples[i].len() < SAMPLES {
                self.samples[i].push(Sample::of(f));
            }
        }
        let host = super::leaks::host_of(f);
        let k = row_key(&self.matrix, &host);
        *self.matrix.entry(k).or_default().entry(f.kind.to_string()).or_default() += 1;
        // A request's findings come one after another: one upload each.
        let upload = (f.frame, f.src, f.stream_id);
        if self.last_upload != Some(upload) {
            self.last_upload = Some(upload);
            let k = row_key(&self.timeline, &host);
            self.timeline.entry(k).or_default().add(f.time);
            self.first = Some(self.first.map_or(f.time, |t| t.min(f.time)));
            self.last = Some(self.last.map_or(f.time, |t| t.max(f.time)));
        }
        Ok(())
    }

    fn request(&mut self, q: &RequestRecord) -> io::Result<()> {
        // The page is about leaks; a listing's values are still learnt
        // so that nothing shown elsewhere carries them.
        self.p.learn_values(&q.found);
        Ok(())
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        if r.capture.is_empty() {
            // Not a capture: what finding the inputs met (a path that
            // cannot be read).
            for e in &r.errors {
                if self.input_errors.len() < MAX_INPUT_ERRORS {
                    self.input_errors.push(e.message.clone());
                }
            }
            return Ok(());
        }
        let index = self.captures.len();
        self.captures.push(self.capture.clone());
        let table = std::mem::take(&mut self.table);
        let mut samples = std::mem::take(&mut self.samples).into_iter();
        for l in table.leaks() {
            self.leak_counts[l.severity as usize] += 1;
            let s = samples.next().unwrap_or_default();
            if self.leaks.len() < MAX_PAGE_LEAKS {
                self.leaks.push(PageLeak { capture: index, leak: l.clone(), samples: s });
            }
        }
        self.untabled = self.untabled.saturating_add(table.untabled());
        if self.rows.len() < MAX_CAPTURES {
            let error = r.errors.first().map(|e| match e.frame {
                Some(n) => format!("frame {n}: {}", e.message),
                None => e.message.clone(),
            });
            self.rows.push(CaptureRow {
                name: r.capture.clone(),
                frames: r.stats.frames,
                requests: r.stats.requests,
                findings: table.findings(),
                leaks: table.len(),
                not_inspected: super::text::not_inspected_line(r, &self.p),
                error,
            });
        }
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let page = self.page(s);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

const STYLE: &str = r#"<style>
:root{--high:#c0392b;--medium:#d68910;--low:#2e86c1;--fg:#1c2833;--muted:#5d6d7e;--line:#d5d8dc;--bg:#fbfcfc}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1240px;padding:16px 20px}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub{color:var(--muted);margin:0 0 14px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:130px}
.card .n{font-size:24px;font-weight:600}.card .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.high .n{color:var(--high)}.card.medium .n{color:var(--medium)}.card.low .n{color:var(--low)}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f2f4f4;font-weight:600}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}table.sortable th[aria-sort=descending]::after{content:" \25BC"}
td.num,th.num{text-align:right}td.when,td.rule{white-space:nowrap;font-size:12px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.sev{font-weight:700;font-size:12px}.sev.high{color:var(--high)}.sev.medium{color:var(--medium)}.sev.low{color:var(--low)}
details summary{cursor:pointer;color:var(--low)}
details table{margin-top:4px}details td,details th{font-size:12px}
.matrix td.num{min-width:44px}.scroll{overflow-x:auto;max-height:640px;overflow-y:auto}
.muted{color:var(--muted)}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
svg .axis{stroke:var(--muted);stroke-width:1}svg .grid{stroke:var(--line);stroke-width:1}
svg circle{fill:var(--high);fill-opacity:.55;stroke:var(--high)}
</style>"#;

/// Sorts the leak table by the clicked column (each cell's `data-sort`,
/// numbers as numbers); plain JavaScript, no library.
const SCRIPT: &str = r#"<script>
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("thead th");
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (r) { var c = r.cells[col]; return c.getAttribute("data-sort") || c.textContent; };
      var numeric = th.classList.contains("num");
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var d = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
</script>"#;

fn sev_class(s: Severity) -> &'static str {
    s.as_str()
}

impl<W: Write> HtmlReporter<W> {
    /// Masked, control characters escaped: ready for [`Html::text`].
    fn shown(&self, s: &str) -> String {
        self.p.line(s).into_owned()
    }

    /// `GET /path`, `MESSAGE tel:...`, or `stream` outside a request.
    fn request_line(&self, method: Option<&str>, target: Option<&str>) -> String {
        match (method, target) {
            (Some(m), Some(t)) => format!("{} {}", self.shown(m), self.shown(t)),
            (Some(m), None) => self.shown(m),
            (None, _) => "stream".to_string(),
        }
    }

    fn page(&self, s: &Summary) -> String {
        let mut h = Html::default();
        h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .raw("<title>teleaudit report</title>")
            .raw(STYLE)
            .raw("</head><body>\n<h1>teleaudit report</h1><p class=\"sub\">");
        let names: Vec<String> = self.captures.iter().take(3).map(|c| self.shown(c)).collect();
        h.text(&names.join(", "));
        if self.captures.len() > 3 {
            h.raw(" and ").num(self.captures.len() - 3).raw(" more");
        }
        if !self.p.opts.show_values {
            h.raw(" &middot; identifier values masked (--show-values shows them)");
        }
        h.raw("</p>\n");
        self.cards(&mut h, s);
        h.raw("<h2>Uploads carrying identifiers, per destination</h2>\n");
        self.timeline_svg(&mut h);
        h.raw("<h2>Destinations by kind</h2>\n");
        self.matrix_table(&mut h);
        h.raw("<h2>Leaks</h2>\n");
        self.leak_table(&mut h);
        h.raw("<h2>Captures</h2>\n");
        self.capture_table(&mut h);
        h.raw(SCRIPT).raw("\n</body></html>\n");
        h.into_string()
    }

    fn cards(&self, h: &mut Html, s: &Summary) {
        let total: u64 = self.leak_counts.iter().sum();
        h.raw("<div class=\"cards\">");
        let card = |h: &mut Html, class: &'static str, n: u64, label: &'static str| {
            h.raw("<div class=\"card ").raw(class).raw("\"><div class=\"n\">").num(n);
            h.raw("</div><div class=\"l\">").raw(label).raw("</div></div>");
        };
        card(h, "", s.files, "captures");
        card(h, "", s.requests, "requests");
        h.raw("<div class=\"card\"><div class=\"n\" id=\"leak-count\"");
        h.attr("data-leaks", &total.to_string()).raw(">").num(total);
        h.raw("</div><div class=\"l\">distinct leaks</div></div>");
        card(h, "high", self.leak_counts[2], "high");
        card(h, "medium", self.leak_counts[1], "medium");
        card(h, "low", self.leak_counts[0], "low");
        card(h, "", s.total_findings(), "findings");
        // Past MAX_ROWS destinations the rest share one row: "at least".
        let other = self.matrix.contains_key(OTHER_HOSTS);
        let destinations = self.matrix.len().saturating_sub(usize::from(other)) as u64;
        card(h, "", destinations, if other { "destinations and more" } else { "destinations" });
        h.raw("</div>\n");
        if self.untabled > 0 {
            h.raw("<p class=\"muted\">").num(self.untabled);
            h.raw(
                " findings of further distinct leaks past the table's limit per capture are counted, not listed.</p>",
            );
        }
        let mut notes = Vec::new();
        if s.suppressed > 0 {
            notes.push(format!("{} known findings suppressed by the baseline", s.suppressed));
        }
        if s.filtered > 0 {
            notes.push(format!("{} findings not shown (--kind, --host, --min-severity)", s.filtered));
        }
        if s.errors > 0 {
            notes.push(format!("{} errors (see Captures)", s.errors));
        }
        if !notes.is_empty() {
            h.raw("<p class=\"muted\">").text(&notes.join("; ")).raw("</p>\n");
        }
    }

    fn timeline_svg(&self, h: &mut Html) {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            h.raw("<p class=\"muted\">No uploads carrying identifiers.</p>\n");
            return;
        };
        let mut rows: Vec<(&String, &Histogram)> = self.timeline.iter().collect();
        rows.sort_by(|a, b| b.1.total.cmp(&a.1.total).then(a.0.cmp(b.0)));
        let hidden = rows.len().saturating_sub(PLOT_ROWS);
        rows.truncate(PLOT_ROWS);
        const LEFT: f64 = 260.0;
        const RIGHT: f64 = 30.0;
        const WIDTH: f64 = 1180.0;
        const ROW: f64 = 26.0;
        const TOP: f64 = 10.0;
        let plot = WIDTH - LEFT - RIGHT;
        let height = TOP + ROW * rows.len() as f64 + 34.0;
        let (t0, t1) = (nanos(first), nanos(last));
        let span = (t1 - t0).max(1) as f64;
        let x_of = |t: i128| LEFT + plot * ((t - t0) as f64 / span).clamp(0.0, 1.0);
        h.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"timeline\" role=\"img\" viewBox=\"0 0 ");
        h.coord(WIDTH).raw(" ").coord(height).raw("\" width=\"100%\">");
        h.raw("<title>Uploads carrying identifiers over time, one row per destination</title>");
        for (i, (host, hist)) in rows.iter().enumerate() {
            let y = TOP + ROW * i as f64 + ROW / 2.0;
            h.raw("<line class=\"grid\" x1=\"").coord(LEFT).raw("\" x2=\"").coord(LEFT + plot);
            h.raw("\" y1=\"").coord(y).raw("\" y2=\"").coord(y).raw("\"/>");
            let label = self.shown(host);
            let short: String = if label.chars().count() > 38 {
                label.chars().take(37).chain(['…']).collect()
            } else {
                label.clone()
            };
            h.raw("<text x=\"").coord(LEFT - 8.0).raw("\" y=\"").coord(y + 4.0).raw("\" text-anchor=\"end\">");
            h.raw("<title>").text(&label).raw("</title>").text(&short).raw(" (").num(hist.total).raw(")</text>");
            for (t, n) in hist.marks() {
                let r = 3.0 + (n as f64).log2().min(8.0);
                h.raw("<circle cx=\"").coord(x_of(t)).raw("\" cy=\"").coord(y).raw("\" r=\"").coord(r).raw("\">");
                let when = from_nanos(t);
                h.raw("<title>").num(n).raw(if n == 1 { " upload" } else { " uploads" }).raw(" around ");
                h.text(&short_time(when)).raw("</title></circle>");
            }
        }
        let axis = TOP + ROW * rows.len() as f64 + 4.0;
        h.raw("<line class=\"axis\" x1=\"").coord(LEFT).raw("\" x2=\"").coord(LEFT + plot);
        h.raw("\" y1=\"").coord(axis).raw("\" y2=\"").coord(axis).raw("\"/>");
        for (i, anchor) in [(0, "start"), (1, "middle"), (2, "end")] {
            let t = t0 + (t1 - t0) * i / 2;
            let when = from_nanos(t);
            h.raw("<text x=\"").coord(x_of(t)).raw("\" y=\"").coord(axis + 18.0).raw("\" text-anchor=\"");
            h.raw(anchor).raw("\">").text(&short_time(when)).raw("</text>");
        }
        h.raw("</svg>\n");
        h.raw("<p class=\"muted\">A mark per upload (a request or message with findings), merged into wider time buckets past ");
        h.num(MAX_BUCKETS).raw(" per row; larger marks stand for more uploads (hover for counts).");
        if hidden > 0 {
            h.raw(" ").num(hidden).raw(" destinations with fewer uploads are not drawn.");
        }
        h.raw("</p>\n");
    }

    fn matrix_table(&self, h: &mut Html) {
        if self.matrix.is_empty() {
            h.raw("<p class=\"muted\">Nothing found.</p>\n");
            return;
        }
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for row in self.matrix.values() {
            for (k, n) in row {
                *kinds.entry(k).or_default() += n;
            }
        }
        let mut kinds: Vec<(&str, u64)> = kinds.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut hosts: Vec<(&String, u64)> = self.matrix.iter().map(|(h, r)| (h, r.values().sum())).collect();
        hosts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // One row per destination (there can be many), one column per
        // kind (a few dozen at most: the rules' kinds).
        h.raw("<div class=\"scroll\"><table class=\"matrix\" id=\"matrix\"><thead><tr><th>destination \\ kind</th>");
        for (kind, _) in &kinds {
            h.raw("<th class=\"num\">").text(kind).raw("</th>");
        }
        h.raw("<th class=\"num\">total</th></tr></thead><tbody>");
        for (host, total) in &hosts {
            h.raw("<tr><th class=\"mono\">").text(&self.shown(host)).raw("</th>");
            for (kind, _) in &kinds {
                match self.matrix[*host].get(*kind) {
                    Some(n) => h.raw("<td class=\"num\">").num(*n).raw("</td>"),
                    None => h.raw("<td></td>"),
                };
            }
            h.raw("<td class=\"num\"><b>").num(*total).raw("</b></td></tr>");
        }
        h.raw("<tr><th>total</th>");
        for (_, n) in &kinds {
            h.raw("<td class=\"num\"><b>").num(*n).raw("</b></td>");
        }
        let all: u64 = kinds.iter().map(|(_, n)| n).sum();
        h.raw("<td class=\"num\"><b>").num(all).raw("</b></td></tr>");
        h.raw("</tbody></table></div>\n<p class=\"muted\">Findings of each kind sent to each destination.</p>\n");
    }

    fn leak_table(&self, h: &mut Html) {
        if self.leaks.is_empty() {
            h.raw("<p class=\"muted\">No leaks.</p>\n");
            return;
        }
        let many = self.captures.len() > 1;
        h.raw("<table class=\"sortable\" id=\"leaks\"><thead><tr>");
        h.raw("<th class=\"num\">severity</th><th class=\"num\">count</th><th>kind</th><th>destination</th>");
        h.raw("<th>request</th><th>where</th><th>value</th><th>first</th><th>last</th><th>rule</th>");
        if many {
            h.raw("<th>capture</th>");
        }
        h.raw("<th>requests</th></tr></thead><tbody>\n");
        let mut order: Vec<&PageLeak> = self.leaks.iter().collect();
        order.sort_by(|a, b| {
            b.leak
                .severity
                .cmp(&a.leak.severity)
                .then(b.leak.count.cmp(&a.leak.count))
                .then(a.leak.host.cmp(&b.leak.host))
        });
        for pl in order {
            self.leak_row(h, pl, many);
        }
        h.raw("</tbody></table>\n");
        let listed = self.leaks.len() as u64;
        let total: u64 = self.leak_counts.iter().sum();
        if total > listed {
            h.raw("<p class=\"muted\">")
                .num(total - listed)
                .raw(" further leaks are counted above but not listed (the page lists ");
            h.num(MAX_PAGE_LEAKS).raw(").</p>\n");
        }
    }

    fn leak_row(&self, h: &mut Html, pl: &PageLeak, many: bool) {
        let l = &pl.leak;
        let p = &self.p;
        h.raw("<tr class=\"leak\"><td class=\"sev ").raw(sev_class(l.severity)).raw("\"");
        h.attr("data-sort", &(l.severity as u8).to_string()).raw(">").raw(l.severity.as_str()).raw("</td>");
        h.raw("<td class=\"num\">").num(l.count).raw("</td>");
        h.raw("<td>").text(&l.kind).raw("</td>");
        h.raw("<td class=\"mono\">").text(&self.shown(&l.host)).raw("</td>");
        let target = if p.opts.show_values { l.path.as_deref() } else { l.path_masked.as_deref() };
        let request = self.request_line(l.method.as_deref(), target);
        h.raw("<td class=\"mono\">").text(&request).raw("</td>");
        let mut where_ = match &l.field {
            Some(field) => format!("{}:{}", l.location.as_str(), self.shown(field)),
            None => l.location.as_str().to_string(),
        };
        if !l.encoding.is_empty() {
            where_.push_str(&format!(" [{}]", l.encoding.join(" > ")));
        }
        h.raw("<td class=\"mono\">").text(&where_).raw("</td>");
        h.raw("<td class=\"mono\">").text(&self.shown(&p.value(&l.value)));
        if let Some(label) = l.values_label() {
            h.raw(" <span class=\"muted\">").text(&label).raw("</span>");
        }
        if let Some(m) = &l.matched {
            h.raw(" <span class=\"muted\">(profile: ").text(&self.shown(&p.value(m))).raw(")</span>");
        }
        h.raw("</td>");
        for t in [l.first, l.last] {
            let s = short_time(t);
            h.raw("<td class=\"mono when\"").attr("data-sort", &t.rfc3339()).raw(">").text(&s).raw("</td>");
        }
        h.raw("<td class=\"rule\"").attr("title", &l.title).raw(">").text(&l.rule).raw("</td>");
        if many {
            h.raw("<td class=\"mono\">").text(&self.shown(&self.captures[pl.capture])).raw("</td>");
        }
        h.raw("<td").attr("data-sort", &pl.samples.len().to_string()).raw("><details><summary>");
        h.num(pl.samples.len());
        if (pl.samples.len() as u64) < l.count {
            h.raw(" of ").num(l.count);
        }
        h.raw("</summary><table><thead><tr><th>frame</th><th>time</th><th>from &rarr; to</th><th>request</th>");
        h.raw("<th>value</th></tr></thead><tbody>");
        for q in &pl.samples {
            h.raw("<tr><td class=\"num\">").num(q.frame).raw("</td><td class=\"mono\">").text(&q.time.rfc3339());
            h.raw("</td><td class=\"mono\">").text(&format!("{} \u{2192} {}", q.src, q.dst)).raw("</td>");
            let uri = if p.opts.show_values { q.uri.as_deref() } else { q.uri_masked.as_deref() };
            let line = self.request_line(q.method.as_deref(), uri);
            h.raw("<td class=\"mono\">").text(&line).raw("</td>");
            h.raw("<td class=\"mono\">").text(&self.shown(&p.value(&q.value))).raw("</td></tr>");
        }
        h.raw("</tbody></table></details></td></tr>\n");
    }

    fn capture_table(&self, h: &mut Html) {
        h.raw("<table id=\"captures\"><thead><tr><th>capture</th><th class=\"num\">frames</th>");
        h.raw("<th class=\"num\">requests</th><th class=\"num\">findings</th><th class=\"num\">leaks</th>");
        h.raw("<th>not inspected</th><th>first error</th></tr></thead><tbody>");
        for r in &self.rows {
            h.raw("<tr><td class=\"mono\">").text(&self.shown(&r.name)).raw("</td>");
            h.raw("<td class=\"num\">").num(r.frames).raw("</td><td class=\"num\">").num(r.requests);
            h.raw("</td><td class=\"num\">").num(r.findings).raw("</td><td class=\"num\">").num(r.leaks).raw("</td>");
            h.raw("<td>").text(r.not_inspected.as_deref().unwrap_or("nothing")).raw("</td>");
            h.raw("<td>").text(&r.error.as_deref().map(|e| self.shown(e)).unwrap_or_default()).raw("</td></tr>");
        }
        h.raw("</tbody></table>\n");
        for e in &self.input_errors {
            h.raw("<p class=\"muted\">error: ").text(&self.shown(e)).raw("</p>\n");
        }
        if self.captures.len() > self.rows.len() {
            h.raw("<p class=\"muted\">")
                .num(self.captures.len() - self.rows.len())
                .raw(" more captures not listed.</p>\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::leaks::tests::finding;
    use super::*;

    fn render(findings: &[Finding], opts: ReportOptions) -> String {
        let mut out = Vec::new();
        let mut r = HtmlReporter::new(&mut out, opts);
        r.begin("c.pcap").unwrap();
        for f in findings {
            r.finding(f).unwrap();
        }
        r.end(&FileReport { capture: "c.pcap".into(), ..Default::default() }).unwrap();
        r.finish(&Summary { files: 1, ..Summary::default() }).unwrap();
        drop(r);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_markup_and_quotes() {
        let mut h = Html::default();
        h.text("<script>alert('x') & \"y\"</script>");
        assert_eq!(h.into_string(), "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
    }

    #[test]
    fn hostile_host_is_escaped_and_values_masked() {
        let mut f = finding("imei", "356938035643809", "/r?id=356938035643809", 1, 1);
        f.host = Some("<script>alert(1)</script>.example".into());
        f.uri_masked = Some("/r?id=3569********3809".into());
        let page = render(&[f], ReportOptions::default());
        assert!(!page.contains("<script>alert"), "unescaped host");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;.example"));
        assert!(!page.contains("356938035643809"), "value unmasked");
        assert!(page.contains(r#"data-leaks="1""#));
    }

    #[test]
    fn show_values_shows_them() {
        let f = finding("imei", "356938035643809", "/r?id=356938035643809", 1, 1);
        let page = render(&[f], ReportOptions { show_values: true, ..ReportOptions::default() });
        assert!(page.contains("356938035643809"));
    }

    #[test]
    fn samples_are_capped_and_uploads_counted_once_per_request() {
        // 50 requests of one leak, each with two findings (two kinds).
        let mut all = Vec::new();
        for i in 0..50 {
            all.push(finding("imei", "356938035643809", "/r", i, 1));
            let mut s = finding("serial", "WKL3A1B2C3D4", "/r", i, 1);
            s.field = Some("sn".into());
            all.push(s);
        }
        let mut out = Vec::new();
        let mut r = HtmlReporter::new(&mut out, ReportOptions::default());
        r.begin("c").unwrap();
        for f in &all {
            r.finding(f).unwrap();
        }
        assert_eq!(r.timeline["h.example"].total, 50);
        assert!(r.samples.iter().all(|s| s.len() == SAMPLES));
        r.end(&FileReport { capture: "c".into(), ..FileReport::default() }).unwrap();
        assert_eq!(r.leak_counts, [0, 0, 2]);
        assert_eq!(r.matrix["h.example"]["imei"], 50);
    }

    #[test]
    fn histogram_coarsens_past_its_cap_and_keeps_counts() {
        let mut hist = Histogram::default();
        for i in 0..10_000i64 {
            hist.add(Timestamp::new(i, 0));
        }
        assert!(hist.buckets.len() <= MAX_BUCKETS);
        assert_eq!(hist.buckets.values().sum::<u64>(), 10_000);
        assert_eq!(hist.total, 10_000);
        // Negative and far times do not overflow.
        hist.add(Timestamp::new(i64::MIN, 0));
        hist.add(Timestamp::new(i64::MAX, 999_999_999));
        assert!(hist.buckets.len() <= MAX_BUCKETS);
    }
}
