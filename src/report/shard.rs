//! The shard file: what one shard of a batch scan (`--shard I/N`) hands
//! to `teleaudit merge`, lossless. JSON Lines: a [`Header`] first (the
//! tool, the run's rules, profile and configuration, the shard, and the
//! whole run's discovered inputs, so merge can put every capture in its
//! place and say what a missing shard held), then each capture of the
//! shard in input order (`begin`, its findings and requests as they were
//! made, `end` with its record), and `done` last. Each line is one
//! externally tagged record: `{"finding":{...}}`.
//!
//! Unlike the reports, a shard file holds identifier values unmasked:
//! it is an intermediate file for merge, as sensitive as the captures it
//! was made from (written only with `-o`, readable by its owner only);
//! merge masks them in what it writes, unless `--show-values`.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Reporter, Summary};
use crate::finding::{ErrorRecord, FileReport, Finding, RequestRecord};

/// The shard file format's version: merge refuses others.
pub const FORMAT: u32 = 1;

/// Longest line read from a shard file (a record is far smaller: a
/// finding is bounded by the request limits).
pub const MAX_LINE: u64 = 64 << 20;

/// What a shard file says about its run. Shards of one run have equal
/// headers but for `shard.index`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    /// `teleaudit 0.1.0`.
    pub tool: String,
    /// `scan` or `requests`.
    pub mode: String,
    pub shard: ShardSpec,
    /// [`crate::detect::rules::RuleSet::digest`].
    pub rules: String,
    /// [`crate::detect::profile::Profile::digest`], if a profile was used.
    pub profile: Option<String>,
    /// Everything else that changes what a scan finds (limits, key logs'
    /// digest, app filter, ...), as given.
    pub config: serde_json::Value,
    pub discovery: RunInputs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: u64,
    pub count: u64,
}

/// The whole run's discovery, the same in every shard's header.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInputs {
    /// Every capture of the run in input order: its name as shown, the
    /// shard it belongs to, and its size and a digest of its first and
    /// last 4 KiB when known: a shard file of an earlier scan of the same
    /// folders, whose captures have since changed, is told apart (and a
    /// capture copied to each node is still the same).
    pub inputs: Vec<InputEntry>,
    /// Paths that could not be scanned.
    pub errors: Vec<ErrorRecord>,
    pub skipped: u64,
    pub warnings: Vec<ErrorRecord>,
    pub warnings_omitted: u64,
    pub not_captures: u64,
    pub not_capture_names: Vec<String>,
}

/// `(name, shard, size, sample digest)`: see [`RunInputs::inputs`].
pub type InputEntry = (String, u64, Option<u64>, Option<String>);

/// One line of a shard file, as read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    #[serde(rename = "teleaudit_shard")]
    Header(Box<Header>),
    /// A capture starts: its place in the run's inputs and its name.
    Begin {
        index: u64,
        capture: String,
    },
    Finding(Box<Finding>),
    Request(Box<RequestRecord>),
    End(Box<FileReport>),
    /// The shard is complete.
    Done {
        elapsed_secs: f64,
        peak_memory_bytes: Option<u64>,
    },
}

/// One line as written (borrowing what it writes).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum RecordRef<'a> {
    #[serde(rename = "teleaudit_shard")]
    Header(&'a Header),
    Begin {
        index: u64,
        capture: &'a str,
    },
    Finding(&'a Finding),
    Request(&'a RequestRecord),
    End(&'a FileReport),
    Done {
        elapsed_secs: f64,
        peak_memory_bytes: Option<u64>,
    },
}

/// Writes a shard file from a scan's events. The scan's first record,
/// the discovery's (its name empty), is not written: the header holds
/// the whole run's discovery.
pub struct ShardWriter<W: Write> {
    out: W,
    /// The places in the run's inputs of this shard's captures, in order.
    places: Vec<u64>,
    next: usize,
    /// The discovery record is still to come / being passed over.
    discovery: Option<bool>,
    buf: Vec<u8>,
}

impl<W: Write> ShardWriter<W> {
    /// Writes the header. `places`: where each capture this shard scans
    /// is in `header.discovery.inputs`, in the order it scans them.
    pub fn new(mut out: W, header: &Header, places: Vec<u64>) -> io::Result<Self> {
        serde_json::to_writer(&mut out, &RecordRef::Header(header))?;
        out.write_all(b"\n")?;
        Ok(ShardWriter { out, places, next: 0, discovery: Some(false), buf: Vec::new() })
    }

    fn line(&mut self, r: &RecordRef<'_>) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, r)?;
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }
}

impl<W: Write> Reporter for ShardWriter<W> {
    fn begin(&mut self, capture: &str) -> io::Result<()> {
        if self.discovery == Some(false) {
            self.discovery = Some(true);
            return Ok(());
        }
        let Some(&index) = self.places.get(self.next) else {
            return Err(io::Error::other(format!("shard file: a capture ({capture}) past the shard's inputs")));
        };
        self.next += 1;
        self.line(&RecordRef::Begin { index, capture })
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.line(&RecordRef::Finding(f))
    }

    fn request(&mut self, r: &RequestRecord) -> io::Result<()> {
        self.line(&RecordRef::Request(r))
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        if self.discovery == Some(true) {
            self.discovery = None;
            return Ok(());
        }
        self.line(&RecordRef::End(r))
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        self.line(&RecordRef::Done { elapsed_secs: s.elapsed_secs, peak_memory_bytes: s.peak_memory_bytes })?;
        self.out.flush()
    }
}

/// Reads one record; `Ok(None)` at the end of the file. A line that is
/// cut (no newline: the writer was stopped), too long, or not a record
/// is an error naming its line number.
pub fn read_record<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, line: &mut u64) -> Result<Option<Record>, String> {
    buf.clear();
    let n = std::io::Read::take(&mut *r, MAX_LINE + 1).read_until(b'\n', buf).map_err(|e| e.to_string())?;
    if n == 0 {
        return Ok(None);
    }
    *line += 1;
    if buf.last() != Some(&b'\n') {
        return Err(if n as u64 > MAX_LINE {
            format!("line {line}: longer than {MAX_LINE} bytes")
        } else {
            format!("line {line}: cut short (the file ends inside a record)")
        });
    }
    serde_json::from_slice(buf).map(Some).map_err(|e| format!("line {line}: not a shard record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format: FORMAT,
            tool: "teleaudit test".into(),
            mode: "scan".into(),
            shard: ShardSpec { index: 1, count: 2 },
            rules: "r".into(),
            profile: None,
            config: serde_json::json!({"max_body": 1}),
            discovery: RunInputs {
                inputs: vec![("a.pcap".into(), 0, Some(1), None), ("b.pcap".into(), 1, None, Some("ab".into()))],
                ..Default::default()
            },
        }
    }

    #[test]
    fn records_read_back_as_written_and_the_discovery_record_is_left_out() {
        let mut out = Vec::new();
        let mut w = ShardWriter::new(&mut out, &header(), vec![1]).expect("header");
        w.file(&FileReport { errors: vec![], ..FileReport::default() }).expect("discovery");
        let report = FileReport { capture: "b.pcap".into(), ..FileReport::default() };
        w.file(&report).expect("capture");
        w.finish(&Summary { elapsed_secs: 1.5, ..Summary::default() }).expect("finish");
        drop(w);
        let mut r = io::Cursor::new(out);
        let (mut buf, mut line) = (Vec::new(), 0);
        let mut next = || read_record(&mut r, &mut buf, &mut line).expect("record");
        assert!(matches!(next(), Some(Record::Header(h)) if *h == header()));
        assert!(matches!(next(), Some(Record::Begin { index: 1, capture }) if capture == "b.pcap"));
        assert!(matches!(next(), Some(Record::End(e)) if e.capture == "b.pcap"));
        assert!(matches!(next(), Some(Record::Done { elapsed_secs, .. }) if elapsed_secs == 1.5));
        assert!(next().is_none());
    }

    #[test]
    fn a_cut_line_is_an_error_not_a_record() {
        let mut r = io::Cursor::new(b"{\"done\":{\"elapsed_secs\":1.0,\"peak".to_vec());
        let e = read_record(&mut r, &mut Vec::new(), &mut 0).unwrap_err();
        assert!(e.contains("line 1: cut short"), "{e}");
        let mut r = io::Cursor::new(b"{\"nonsense\":1}\n".to_vec());
        assert!(read_record(&mut r, &mut Vec::new(), &mut 0).unwrap_err().contains("not a shard record"));
    }
}
