//! capture: streaming readers for legacy pcap and pcapng (plain, gzip,
//! stdin) that yield borrowed frames.
//!
//! Input: any `Read`. Output: [`Frame`]s numbered from 1 as Wireshark numbers
//! them, each borrowing its bytes from one read buffer (no copy, no
//! allocation per frame). Record framing (lengths) is validated here before
//! pcap-parser sees the bytes, because pcap-parser subtracts past zero on
//! pcapng blocks shorter than 12 bytes (see NOTES-crates.md).
//!
//! Each frame carries the app or process its capture tool recorded
//! ([`appmeta`]): from pcapng packet comments and PCAPdroid uid map
//! blocks, a PCAPdroid trailer (cut off the frame here, so decoding never
//! sees it) or a PKTAP header (left in the frame for `decode`).
//!
//! Never: decode link layers (that is `decode`), panic on any byte sequence,
//! or buffer more than [`MAX_RECORD`] plus one read chunk.

pub mod appmeta;
pub mod writer;

use std::io::{self, Read};
use std::sync::Arc;

pub use pcap_parser::Linktype;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;

use crate::util::Timestamp;
use appmeta::AppCache;
pub use appmeta::AppRef;

/// Bytes asked of the source per read; the buffer starts this large.
pub const READ_CHUNK: usize = 1 << 20;
/// The largest record (pcap record or pcapng block) accepted. libpcap's own
/// snapshot limit is 256 KiB; pcapng blocks with long comments or
/// decryption secrets can be larger, so we allow 64 MiB and call anything
/// longer corrupt.
pub const MAX_RECORD: usize = 64 << 20;
/// Page alignment of the read buffer: unaligned `read()` targets were
/// measured 5x slower on our machines (NOTES-crates.md).
const BUF_ALIGN: usize = 4096;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;
const PCAP_MODIFIED_RECORD_HEADER_LEN: usize = 24;
const PCAPNG_SHB_MAGIC: u32 = 0x0A0D_0D0A;
const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const PCAPNG_MIN_BLOCK: usize = 12;
const PCAPNG_MIN_SHB: usize = 28;
const DEFAULT_TSRESOL: u64 = 1_000_000;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based, counting every packet record in the file (as Wireshark).
    pub number: u64,
    pub ts: Timestamp,
    pub link: Linktype,
    /// Interface index within its pcapng section (0 for legacy pcap).
    pub interface: u32,
    /// Captured bytes (may be shorter than `orig_len`: snaplen).
    pub data: &'a [u8],
    pub orig_len: u32,
    /// The app or process the capture tool recorded for this frame
    /// ([`appmeta`]): shared by all its frames, `None` when unknown.
    pub app: Option<&'a Arc<AppRef>>,
    /// The reader's buffer `data` lies in, when it came from one: another
    /// thread may hold on to it to read slices of `data` later, without a
    /// copy (the reader then reads on into a new buffer).
    pub block: Option<&'a Shared>,
}

/// A buffer of capture bytes, shared with whoever still reads it.
pub type Shared = Arc<Vec<u8>>;

/// What kind of file the reader found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Pcap,
    PcapNg,
}

/// A fatal problem with a capture: reading stops. Offsets are byte offsets
/// in the (decompressed) capture stream.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("empty file: not a capture")]
    Empty,
    #[error("not a capture file (starts with {magic}); expected pcap, pcapng or gzip")]
    NotCapture { magic: String },
    /// `found`: "starts with <hex>", or "it is empty".
    #[error("gzip-compressed, but the content is not a pcap or pcapng capture ({found})")]
    NotCaptureInGzip { found: String },
    #[error("{format} file: not supported; convert it to pcap or pcapng first")]
    Unsupported { format: &'static str },
    #[error("truncated {what} at offset {offset}: the file ends inside it")]
    Truncated { what: &'static str, offset: u64 },
    #[error("corrupt {what} at offset {offset}: {reason}")]
    Corrupt { what: &'static str, offset: u64, reason: String },
}

/// A non-fatal problem: the record is skipped, reading goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureNote {
    pub offset: u64,
    /// The frame it concerns, when it is about one.
    pub frame: Option<u64>,
    pub message: String,
    /// About app attribution only (a trailer's CRC, a packet's options, a
    /// comment or uid map that could not be read whole): the packets were
    /// inspected all the same, so it is a note on the capture, not an error.
    pub attribution: bool,
}

/// Notes kept one by one per kind of problem; the rest of a kind are
/// counted and summarised in one note at the end of the capture (a file
/// of ten million broken blocks must not make ten million records).
pub const MAX_NOTES_PER_KIND: u64 = 10;
/// Interfaces described per pcapng section that are kept. Each costs a
/// few bytes; a file could describe billions. Packets on the interfaces
/// beyond are skipped with a note.
pub const MAX_INTERFACES: usize = 1 << 16;

/// The kinds of non-fatal problems, each capped by [`MAX_NOTES_PER_KIND`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoteKind {
    UnparsedBlock,
    BadTsresol,
    InterfaceOverLimit,
    PacketOverLimit,
    MissingInterface,
    SimpleBeforeInterface,
    SecretsType,
    SecretsOverLimit,
    BadOptions,
    CommentNotUtf8,
    BadCustomBlock,
    TrailerCrc,
    BadPktap,
}

impl NoteKind {
    const COUNT: usize = 13;

    fn attribution(self) -> bool {
        matches!(
            self,
            NoteKind::BadOptions | NoteKind::CommentNotUtf8 | NoteKind::BadCustomBlock | NoteKind::TrailerCrc
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counts notes by kind, keeps the first of each, and the first one not
/// kept for the summary.
#[derive(Debug, Default)]
struct NoteLog {
    /// Kept notes not yet taken.
    ready: Vec<CaptureNote>,
    counts: [u64; NoteKind::COUNT],
    /// The first note of each kind past the cap.
    first_dropped: [Option<CaptureNote>; NoteKind::COUNT],
    summarised: bool,
}

impl NoteLog {
    fn push(&mut self, kind: NoteKind, offset: u64, message: impl FnOnce() -> String) {
        self.push_at(kind, offset, None, message);
    }

    /// A note about frame `frame`.
    fn push_at(&mut self, kind: NoteKind, offset: u64, frame: Option<u64>, message: impl FnOnce() -> String) {
        let i = kind.index();
        self.counts[i] = self.counts[i].saturating_add(1);
        let note = |message| CaptureNote { offset, frame, message, attribution: kind.attribution() };
        if self.counts[i] <= MAX_NOTES_PER_KIND {
            self.ready.push(note(message()));
        } else if self.first_dropped[i].is_none() {
            self.first_dropped[i] = Some(note(message()));
        }
    }

    /// One note per kind that went past the cap: the first not kept,
    /// with how many more there were and the total.
    fn summarise(&mut self) {
        if std::mem::replace(&mut self.summarised, true) {
            return;
        }
        for (count, first) in self.counts.iter().zip(self.first_dropped.iter_mut()) {
            if let Some(n) = first.take() {
                let more = count.saturating_sub(MAX_NOTES_PER_KIND + 1);
                self.ready.push(CaptureNote {
                    offset: n.offset,
                    frame: n.frame,
                    attribution: n.attribution,
                    message: format!(
                        "{} (and {} more like it: {} in all, the first {MAX_NOTES_PER_KIND} listed one by one)",
                        n.message,
                        thousands(more),
                        thousands(*count)
                    ),
                });
            }
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: Linktype,
    units_per_sec: u64,
    offset_secs: i64,
}

#[derive(Debug)]
enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        link: Linktype,
    },
    PcapNg {
        big_endian: bool,
        /// The section's interfaces, at most [`MAX_INTERFACES`].
        interfaces: Vec<Interface>,
        /// Interfaces the section describes, kept or not.
        described: u64,
    },
}

/// Where a packet sits in the buffer once its record is complete.
struct PacketAt {
    data_off: usize,
    data_len: usize,
    record_len: usize,
    ts: Timestamp,
    link: Linktype,
    interface: u32,
    orig_len: u32,
    app: Option<Arc<AppRef>>,
}

/// A page-aligned growable byte window over `store`.
struct Window {
    /// Shared only when frames' slices were handed on ([`Frame::block`]):
    /// then the window moves to another store before writing.
    store: Shared,
    base: usize,
    cap: usize,
    /// Unconsumed bytes are `start..end`, relative to `base`.
    start: usize,
    end: usize,
    /// Stores given up while still shared, to be used again once no one
    /// reads them.
    retired: Vec<Shared>,
}

/// Stores kept for reuse: the rounds of frames in flight to workers
/// each hold a few.
const MAX_RETIRED: usize = 16;

impl Window {
    fn with_capacity(cap: usize) -> Self {
        let store = vec![0u8; cap + BUF_ALIGN];
        let base = store.as_ptr().align_offset(BUF_ALIGN).min(BUF_ALIGN);
        Window { store: Arc::new(store), base, cap, start: 0, end: 0, retired: Vec::new() }
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn bytes(&self) -> &[u8] {
        &self.store[self.base + self.start..self.base + self.end]
    }

    /// The store, to write; called once it is not shared (else it would
    /// be copied whole).
    fn store_mut(&mut self) -> &mut Vec<u8> {
        Arc::make_mut(&mut self.store)
    }

    /// Moves to a store no one else reads, the unconsumed bytes at its
    /// front, with room for `need` bytes: back to [`READ_CHUNK`] when that
    /// is enough (one large record does not leave every later store large).
    fn unshare(&mut self, need: usize) {
        if need <= READ_CHUNK {
            self.cap = READ_CHUNK;
        } else if need > self.cap {
            self.cap = need.next_power_of_two();
        }
        let size = self.cap + BUF_ALIGN;
        let mut fresh = None;
        while let Some(at) = self.retired.iter().position(|r| Arc::strong_count(r) == 1) {
            match Arc::try_unwrap(self.retired.swap_remove(at)) {
                Ok(v) if v.len() == size => {
                    fresh = Some(v);
                    break;
                }
                _ => {}
            }
        }
        let mut store = fresh.unwrap_or_else(|| vec![0u8; size]);
        let base = store.as_ptr().align_offset(BUF_ALIGN).min(BUF_ALIGN);
        let n = self.len();
        store[base..base + n].copy_from_slice(self.bytes());
        let old = std::mem::replace(&mut self.store, Arc::new(store));
        // A store grown for a large record is let go: its readers free it
        // when they are done, and it holds no memory past them.
        if self.retired.len() < MAX_RETIRED && old.len() == READ_CHUNK + BUF_ALIGN {
            self.retired.push(old);
        }
        (self.base, self.start, self.end) = (base, 0, n);
    }

    /// Moves the unconsumed bytes to the front, growing the window when
    /// `need` bytes would not fit.
    fn make_room(&mut self, need: usize) {
        if need <= self.cap {
            if Arc::get_mut(&mut self.store).is_none() {
                // Moving to another store compacts.
                self.unshare(need);
                return;
            }
            let (base, start, end) = (self.base, self.start, self.end);
            self.store_mut().copy_within(base + start..base + end, base);
        } else {
            let mut bigger = Window::with_capacity(need.next_power_of_two().max(self.cap));
            let n = self.len();
            let base = bigger.base;
            bigger.store_mut()[base..base + n].copy_from_slice(self.bytes());
            *self = Window { end: n, ..bigger };
            return;
        }
        self.end -= self.start;
        self.start = 0;
    }

    /// Where to read more, `need` bytes in all wanted.
    fn spare(&mut self, need: usize) -> &mut [u8] {
        if Arc::get_mut(&mut self.store).is_none() {
            self.unshare(need);
        }
        let (from, to) = (self.base + self.end, self.base + self.cap);
        &mut self.store_mut()[from..to]
    }
}

/// Streaming capture reader. Call [`CaptureReader::next_frame`] until it
/// returns `Ok(None)`; drain [`CaptureReader::take_notes`] as you go.
pub struct CaptureReader {
    src: Box<dyn Read + Send>,
    win: Window,
    /// Stream offset of `win.start`.
    offset: u64,
    eof: bool,
    format: Format,
    kind: FileKind,
    gzip: bool,
    frames: u64,
    pending: usize,
    notes: NoteLog,
    /// TLS key logs from pcapng Decryption Secrets Blocks, not yet taken.
    secrets: Vec<Vec<u8>>,
    /// Bytes of secrets taken so far (bounded by [`MAX_SECRETS`]).
    secrets_bytes: usize,
    /// Apps seen so far, one shared [`AppRef`] each.
    apps: AppCache,
    /// Apps a PCAPdroid uid map named since they were last taken
    /// ([`CaptureReader::take_named_apps`]).
    named: Vec<Arc<AppRef>>,
    /// The app of the frame last returned (the frame borrows it).
    app: Option<Arc<AppRef>>,
}

/// Bytes of Decryption Secrets Blocks kept per capture; a file that
/// embeds more is noted and the rest is not used.
pub const MAX_SECRETS: usize = 16 << 20;

/// Reads until `buf` holds `n` bytes or the source ends.
fn read_prefix(src: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(n);
    let mut chunk = [0u8; 64];
    while prefix.len() < n {
        let want = (n - prefix.len()).min(chunk.len());
        match src.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(k) => prefix.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(prefix)
}

fn magic_hex(prefix: &[u8]) -> String {
    prefix.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// A gzip decoder whose errors say they are about the compression: "the
/// file ends inside the compressed data", not "unexpected end of file".
struct GzipErrors<R>(R);

impl<R: Read> Read for GzipErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let truncated = e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("incomplete");
            let what = if truncated { "truncated: the file ends inside the compressed data" } else { "corrupt" };
            io::Error::new(e.kind(), format!("gzip-compressed data {what} ({e})"))
        })
    }
}

impl CaptureReader {
    /// Recognises the file by its first bytes (pcap in both byte orders and
    /// both precisions, the "modified" pcap, pcapng, gzip of any of these)
    /// and reads its header.
    pub fn open(mut src: Box<dyn Read + Send>) -> Result<CaptureReader, CaptureError> {
        let mut prefix = read_prefix(&mut src, 4)?;
        let mut gzip = false;
        if prefix.starts_with(&[0x1f, 0x8b]) {
            gzip = true;
            let chained = io::Cursor::new(prefix).chain(src);
            src = Box::new(GzipErrors(flate2::read::MultiGzDecoder::new(chained)));
            prefix = read_prefix(&mut src, 4)?;
        }
        let not_capture = |prefix: &[u8]| match (gzip, prefix.is_empty()) {
            (false, _) => CaptureError::NotCapture { magic: magic_hex(prefix) },
            (true, true) => CaptureError::NotCaptureInGzip { found: "it is empty".to_string() },
            (true, false) => CaptureError::NotCaptureInGzip { found: format!("starts with {}", magic_hex(prefix)) },
        };
        if prefix.is_empty() {
            return Err(if gzip { not_capture(&prefix) } else { CaptureError::Empty });
        }
        if prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(CaptureError::Unsupported { format: "zstd-compressed" });
        }
        if prefix.starts_with(b"snoo") {
            return Err(CaptureError::Unsupported { format: "snoop" });
        }
        let mut win = Window::with_capacity(READ_CHUNK);
        let base = win.base;
        win.store_mut()[base..base + prefix.len()].copy_from_slice(&prefix);
        win.end = prefix.len();
        let mut reader = CaptureReader {
            src,
            win,
            offset: 0,
            eof: false,
            format: Format::PcapNg { big_endian: false, interfaces: Vec::new(), described: 0 },
            kind: FileKind::PcapNg,
            gzip,
            frames: 0,
            pending: 0,
            notes: NoteLog::default(),
            secrets: Vec::new(),
            secrets_bytes: 0,
            apps: AppCache::default(),
            named: Vec::new(),
            app: None,
        };
        let magic =
            u32::from_le_bytes(prefix.get(..4).and_then(|m| m.try_into().ok()).ok_or_else(|| not_capture(&prefix))?);
        match magic {
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xa1b2_cd34 | 0xd4c3_b2a1 | 0x4d3c_b2a1 | 0x34cd_b2a1 => {
                reader.read_pcap_header()?;
            }
            PCAPNG_SHB_MAGIC => {
                // The section header is read as the first block.
            }
            _ => {
                return Err(not_capture(&prefix));
            }
        }
        Ok(reader)
    }

    /// Opens a file by path; `-` is stdin.
    pub fn open_path(path: &std::path::Path) -> Result<CaptureReader, CaptureError> {
        if path.as_os_str() == "-" {
            return CaptureReader::open(Box::new(io::stdin()));
        }
        let file = std::fs::File::open(path)?;
        CaptureReader::open(Box::new(file))
    }

    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// True when the file was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// Bytes of capture consumed so far (after decompression).
    pub fn position(&self) -> u64 {
        self.offset + self.pending as u64
    }

    /// Frames returned so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Whether notes, key material or named apps wait to be taken
    /// ([`take_notes`](Self::take_notes), [`take_secrets`](Self::take_secrets),
    /// [`take_named_apps`](Self::take_named_apps)): one test per frame.
    pub fn has_news(&self) -> bool {
        !(self.notes.ready.is_empty() && self.secrets.is_empty() && self.named.is_empty())
    }

    /// Non-fatal problems met since the last call (skipped records): the
    /// first [`MAX_NOTES_PER_KIND`] of each kind as they come; once the
    /// capture has ended (`next_frame` gave `None` or an error), one
    /// summary note per kind that had more, with their count.
    pub fn take_notes(&mut self) -> Vec<CaptureNote> {
        std::mem::take(&mut self.notes.ready)
    }

    /// Ensures `need` unconsumed bytes are buffered. False at end of input.
    fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.win.len() >= need {
            return Ok(true);
        }
        // Compact when the record would not fit or little room is left for
        // the next read: reads stay large, copies stay small (one record).
        if self.win.start + need > self.win.cap || self.win.cap - self.win.end < self.win.cap / 4 {
            self.win.make_room(need);
        }
        while self.win.len() < need && !self.eof {
            match self.src.read(self.win.spare(need)) {
                Ok(0) => self.eof = true,
                Ok(k) => self.win.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.win.len() >= need)
    }

    fn consume(&mut self, n: usize) {
        self.win.start += n;
        self.offset += n as u64;
    }

    fn read_pcap_header(&mut self) -> Result<(), CaptureError> {
        if !self.fill(PCAP_HEADER_LEN)? {
            return Err(CaptureError::Truncated { what: "pcap file header", offset: 0 });
        }
        let (_, hdr) = pcap_parser::parse_pcap_header(self.win.bytes()).map_err(|e| CaptureError::Corrupt {
            what: "pcap file header",
            offset: 0,
            reason: format!("{e:?}"),
        })?;
        self.format = Format::Pcap {
            big_endian: hdr.is_bigendian(),
            nanos: hdr.is_nanosecond_precision(),
            modified: hdr.is_modified_format(),
            link: hdr.network,
        };
        self.kind = FileKind::Pcap;
        self.consume(PCAP_HEADER_LEN);
        Ok(())
    }

    /// TLS key logs embedded in the file (pcapng Decryption Secrets
    /// Blocks) read since the last call, in file order.
    pub fn take_secrets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.secrets)
    }

    /// The apps PCAPdroid uid maps named since the last call: packets
    /// read before a uid's map carry only the uid, and what they made can
    /// be given the name once it is known.
    pub fn take_named_apps(&mut self) -> Vec<Arc<AppRef>> {
        std::mem::take(&mut self.named)
    }

    /// The next frame, or `None` at the end of the capture.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let done = std::mem::take(&mut self.pending);
        self.consume(done);
        let at = loop {
            let next = match self.format {
                Format::Pcap { .. } => self.next_pcap_record(),
                Format::PcapNg { .. } => self.next_pcapng_block(),
            };
            match next.inspect_err(|_| self.notes.summarise())? {
                Step::End => {
                    self.notes.summarise();
                    return Ok(None);
                }
                Step::Skip(n) => self.consume(n),
                Step::Packet(at) => break at,
            }
        };
        self.pending = at.record_len;
        self.frames += 1;
        let start = self.win.base + self.win.start + at.data_off;
        let (mut data_len, mut orig_len, mut app) = (at.data_len, at.orig_len, at.app);
        let data = &self.win.store[start..start + at.data_len];
        let record_at = self.offset;
        if at.link == Linktype::ETHERNET {
            if let Some(t) = appmeta::pcapdroid_trailer(data) {
                let cut = data_len - t.keep;
                data_len = t.keep;
                orig_len = orig_len.saturating_sub(cut as u32);
                if !t.crc_ok {
                    self.notes.push_at(NoteKind::TrailerCrc, record_at, Some(self.frames), || {
                        format!("PCAPdroid trailer with a bad CRC; stripped, its uid {} still used", t.uid)
                    });
                }
                if app.is_none() && t.uid >= 0 {
                    let name = crate::util::lossy(t.app_name);
                    let name = (!name.is_empty()).then_some(&*name);
                    app = Some(self.apps.get(appmeta::SOURCE_PCAPDROID, i64::from(t.uid), name, None));
                }
            }
        } else if at.link.0 == appmeta::LINKTYPE_PKTAP {
            match appmeta::pktap_header(data) {
                Some(h) => {
                    if app.is_none()
                        && let Some((pid, comm)) = h.process()
                    {
                        let comm = crate::util::lossy(comm);
                        let comm = (!comm.is_empty()).then_some(&*comm);
                        app = Some(self.apps.get(appmeta::SOURCE_PKTAP, i64::from(pid), comm, None));
                    }
                }
                None => self.notes.push_at(NoteKind::BadPktap, record_at, Some(self.frames), || {
                    "PKTAP header too short or its length past the frame".to_string()
                }),
            }
        }
        self.app = app;
        Ok(Some(Frame {
            number: self.frames,
            ts: at.ts,
            link: at.link,
            interface: at.interface,
            data: &self.win.store[start..start + data_len],
            orig_len,
            app: self.app.as_ref(),
            block: Some(&self.win.store),
        }))
    }

    fn next_pcap_record(&mut self) -> Result<Step, CaptureError> {
        let Format::Pcap { big_endian, nanos, modified, link } = self.format else {
            unreachable!("called only for legacy pcap")
        };
        let hdr_len = if modified { PCAP_MODIFIED_RECORD_HEADER_LEN } else { PCAP_RECORD_HEADER_LEN };
        if !self.fill(hdr_len)? {
            return self.end_or_truncated("pcap record header");
        }
        let h = self.win.bytes();
        let caplen_bytes = [h[8], h[9], h[10], h[11]];
        let caplen =
            if big_endian { u32::from_be_bytes(caplen_bytes) } else { u32::from_le_bytes(caplen_bytes) } as usize;
        if caplen > MAX_RECORD {
            return Err(CaptureError::Corrupt {
                what: "pcap record",
                offset: self.offset,
                reason: format!("captured length {caplen} is over the {MAX_RECORD}-byte limit"),
            });
        }
        if !self.fill(hdr_len + caplen)? {
            return self.end_or_truncated("pcap record");
        }
        let bytes = self.win.bytes();
        let parsed = if modified {
            pcap_parser::parse_pcap_frame_modified(bytes)
        } else if big_endian {
            pcap_parser::parse_pcap_frame_be(bytes)
        } else {
            pcap_parser::parse_pcap_frame(bytes)
        };
        let (_, rec) = parsed.map_err(|e| CaptureError::Corrupt {
            what: "pcap record",
            offset: self.offset,
            reason: format!("{e:?}"),
        })?;
        let frac_ns = if nanos { u64::from(rec.ts_usec) } else { u64::from(rec.ts_usec) * 1000 };
        let ts =
            Timestamp::new(i64::from(rec.ts_sec) + (frac_ns / 1_000_000_000) as i64, (frac_ns % 1_000_000_000) as u32);
        Ok(Step::Packet(PacketAt {
            data_off: hdr_len,
            data_len: caplen,
            record_len: hdr_len + caplen,
            ts,
            link,
            interface: 0,
            orig_len: rec.origlen,
            app: None,
        }))
    }

    fn end_or_truncated(&self, what: &'static str) -> Result<Step, CaptureError> {
        if self.win.len() == 0 { Ok(Step::End) } else { Err(CaptureError::Truncated { what, offset: self.offset }) }
    }

    fn next_pcapng_block(&mut self) -> Result<Step, CaptureError> {
        if !self.fill(PCAPNG_MIN_BLOCK)? {
            return self.end_or_truncated("pcapng block header");
        }
        let h = self.win.bytes();
        let raw_type = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let mut big_endian = match &self.format {
            Format::PcapNg { big_endian, .. } => *big_endian,
            Format::Pcap { .. } => unreachable!("called only for pcapng"),
        };
        let is_shb = raw_type == PCAPNG_SHB_MAGIC;
        if is_shb {
            let bom = [h[8], h[9], h[10], h[11]];
            big_endian = if u32::from_le_bytes(bom) == PCAPNG_BYTE_ORDER_MAGIC {
                false
            } else if u32::from_be_bytes(bom) == PCAPNG_BYTE_ORDER_MAGIC {
                true
            } else {
                return Err(CaptureError::Corrupt {
                    what: "pcapng section header",
                    offset: self.offset,
                    reason: format!("byte-order magic {} is neither order", magic_hex(&bom)),
                });
            };
        }
        let len_bytes = [h[4], h[5], h[6], h[7]];
        let block_len = if big_endian { u32::from_be_bytes(len_bytes) } else { u32::from_le_bytes(len_bytes) } as usize;
        let min = if is_shb { PCAPNG_MIN_SHB } else { PCAPNG_MIN_BLOCK };
        if block_len < min || !block_len.is_multiple_of(4) || block_len > MAX_RECORD {
            return Err(CaptureError::Corrupt {
                what: "pcapng block",
                offset: self.offset,
                reason: format!(
                    "block length {block_len} (must be a multiple of 4, at least {min}, at most {MAX_RECORD})"
                ),
            });
        }
        if !self.fill(block_len)? {
            return Err(CaptureError::Truncated { what: "pcapng block", offset: self.offset });
        }
        let bytes = &self.win.bytes()[..block_len];
        let t = &bytes[block_len - 4..];
        let trailer = if big_endian {
            u32::from_be_bytes([t[0], t[1], t[2], t[3]])
        } else {
            u32::from_le_bytes([t[0], t[1], t[2], t[3]])
        } as usize;
        if trailer != block_len {
            return Err(CaptureError::Corrupt {
                what: "pcapng block",
                offset: self.offset,
                reason: format!("leading length {block_len} and trailing length {trailer} differ"),
            });
        }
        let parsed = if is_shb {
            pcap_parser::pcapng::parse_sectionheaderblock(bytes).map(|(r, b)| (r, Block::SectionHeader(b)))
        } else if big_endian {
            pcap_parser::pcapng::parse_block_be(bytes)
        } else {
            pcap_parser::pcapng::parse_block_le(bytes)
        };
        let block = match parsed {
            Ok((_, b)) => b,
            Err(e) => {
                self.notes.push(NoteKind::UnparsedBlock, self.offset, || {
                    format!("pcapng block of type {raw_type:#010x} skipped: {e:?}")
                });
                return Ok(Step::Skip(block_len));
            }
        };
        let base_ptr = bytes.as_ptr() as usize;
        let Format::PcapNg { interfaces, described, .. } = &mut self.format else { unreachable!("checked above") };
        let (at, notes) = (self.offset, &mut self.notes);
        let step = match block {
            Block::SectionHeader(_) => {
                interfaces.clear();
                *described = 0;
                Step::Skip(block_len)
            }
            Block::InterfaceDescription(idb) => {
                let id = *described;
                *described += 1;
                if interfaces.len() >= MAX_INTERFACES {
                    notes.push(NoteKind::InterfaceOverLimit, at, || {
                        format!(
                            "interface {id} is over the limit of {MAX_INTERFACES} interfaces per section; \
                             its packets are skipped"
                        )
                    });
                } else {
                    let units_per_sec = tsresol_units(idb.if_tsresol).unwrap_or_else(|| {
                        notes.push(NoteKind::BadTsresol, at, || {
                            format!(
                                "interface {id} has an impossible if_tsresol {:#04x}; microseconds assumed",
                                idb.if_tsresol
                            )
                        });
                        DEFAULT_TSRESOL
                    });
                    interfaces.push(Interface { link: idb.linktype, units_per_sec, offset_secs: idb.if_tsoffset });
                }
                Step::Skip(block_len)
            }
            Block::EnhancedPacket(epb) => match interfaces.get(epb.if_id as usize) {
                Some(ifc) => {
                    let data = epb.packet_data();
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let frame = self.frames + 1;
                    let app = epb_app(bytes, epb.caplen, big_endian, &mut self.apps, notes, (at, frame));
                    Step::Packet(PacketAt {
                        data_off: data.as_ptr() as usize - base_ptr,
                        data_len: data.len(),
                        record_len: block_len,
                        ts: Timestamp::from_units(units, ifc.units_per_sec, ifc.offset_secs),
                        link: ifc.link,
                        interface: epb.if_id,
                        orig_len: epb.origlen,
                        app,
                    })
                }
                None if u64::from(epb.if_id) < *described => {
                    notes.push(NoteKind::PacketOverLimit, at, || {
                        format!(
                            "enhanced packet block on interface {}, over the limit of {MAX_INTERFACES} \
                             interfaces per section; skipped",
                            epb.if_id
                        )
                    });
                    Step::Skip(block_len)
                }
                None => {
                    notes.push(NoteKind::MissingInterface, at, || {
                        format!(
                            "enhanced packet block names interface {} but the section has {}; skipped",
                            epb.if_id, described
                        )
                    });
                    Step::Skip(block_len)
                }
            },
            Block::SimplePacket(spb) => match interfaces.first() {
                Some(ifc) => {
                    let data = spb.packet_data();
                    Step::Packet(PacketAt {
                        data_off: data.as_ptr() as usize - base_ptr,
                        data_len: data.len(),
                        record_len: block_len,
                        // Simple packet blocks carry no timestamp.
                        ts: Timestamp::default(),
                        link: ifc.link,
                        interface: 0,
                        orig_len: spb.origlen,
                        app: None,
                    })
                }
                None => {
                    notes.push(NoteKind::SimpleBeforeInterface, at, || {
                        "simple packet block before any interface; skipped".to_string()
                    });
                    Step::Skip(block_len)
                }
            },
            Block::DecryptionSecrets(dsb) => {
                let data = dsb.data.get(..dsb.secrets_len as usize).unwrap_or(dsb.data);
                if dsb.secrets_type != pcap_parser::pcapng::SecretsType::TlsKeyLog {
                    notes.push(NoteKind::SecretsType, at, || {
                        format!(
                            "decryption secrets of type {:#010x} are not used (only TLS key logs are)",
                            dsb.secrets_type.0
                        )
                    });
                } else if self.secrets_bytes + data.len() > MAX_SECRETS {
                    notes.push(NoteKind::SecretsOverLimit, at, || {
                        format!("decryption secrets over the {MAX_SECRETS}-byte limit per capture; not used")
                    });
                } else {
                    self.secrets_bytes += data.len();
                    self.secrets.push(data.to_vec());
                }
                Step::Skip(block_len)
            }
            Block::Custom(cb) => {
                match appmeta::pcapdroid_uid_map(cb.pen, cb.data, big_endian) {
                    Ok(m) => {
                        if m.lossy {
                            notes.push(NoteKind::BadCustomBlock, at, || {
                                format!(
                                    "PCAPdroid uid map block of uid {}: a name is not UTF-8; read with U+FFFD",
                                    m.uid
                                )
                            });
                        }
                        let app = self.apps.get(
                            appmeta::SOURCE_PCAPDROID,
                            i64::from(m.uid),
                            Some(&m.package),
                            Some(&m.app_name),
                        );
                        if self.named.len() < appmeta::MAX_APPS {
                            self.named.push(app);
                        }
                    }
                    Err(appmeta::CustomBlockError::NotUidMap) => {}
                    Err(_) => notes.push(NoteKind::BadCustomBlock, at, || {
                        "PCAPdroid uid map block truncated; not used (its uid is named by number)".to_string()
                    }),
                }
                Step::Skip(block_len)
            }
            _ => Step::Skip(block_len),
        };
        if let Format::PcapNg { big_endian: be, .. } = &mut self.format {
            *be = big_endian;
        }
        if is_shb {
            self.kind = FileKind::PcapNg;
        }
        Ok(step)
    }
}

const OPT_COMMENT: u16 = 1;

/// The app an enhanced packet block's comments name (ptcpdump's
/// `PID: n\nCmd: ...`, PCAPdroid's `u-<uid>`). Options are walked here,
/// not by pcap-parser, which drops malformed ones silently: a malformed
/// option list or a comment that is not UTF-8 is noted, the packet kept.
fn epb_app(
    block: &[u8],
    caplen: u32,
    big_endian: bool,
    apps: &mut AppCache,
    notes: &mut NoteLog,
    (at, frame): (u64, u64),
) -> Option<Arc<AppRef>> {
    let u16at = |b: &[u8], i: usize| {
        let v = [b[i], b[i + 1]];
        if big_endian { u16::from_be_bytes(v) } else { u16::from_le_bytes(v) }
    };
    let start = 28usize.checked_add((caplen as usize).checked_next_multiple_of(4)?)?;
    let mut opts = block.get(start..block.len().checked_sub(4)?)?;
    let mut app = None;
    while !opts.is_empty() {
        if opts.len() < 4 {
            notes.push(NoteKind::BadOptions, at, || "packet block options end inside an option header".to_string());
            break;
        }
        let (code, len) = (u16at(opts, 0), usize::from(u16at(opts, 2)));
        if code == 0 {
            break;
        }
        let Some(value) = opts.get(4..4 + len) else {
            notes.push(NoteKind::BadOptions, at, || {
                format!("packet block option {code} of length {len} runs past its block; the rest ignored")
            });
            break;
        };
        if code == OPT_COMMENT && app.is_none() {
            let c = crate::util::lossy(value);
            if let std::borrow::Cow::Owned(_) = c {
                notes.push_at(NoteKind::CommentNotUtf8, at, Some(frame), || {
                    "packet comment is not UTF-8; read with U+FFFD for attribution".to_string()
                });
            }
            app = comment_app(&c, apps);
        }
        opts = opts.get((4 + len).next_multiple_of(4)..).unwrap_or(&[]);
    }
    app
}

fn comment_app(c: &str, apps: &mut AppCache) -> Option<Arc<AppRef>> {
    if let Some((pid, cmd)) = appmeta::ptcpdump_comment(c) {
        return Some(apps.get(appmeta::SOURCE_PTCPDUMP, pid, cmd.map(appmeta::command_name), cmd));
    }
    let uid = appmeta::pcapdroid_comment(c).filter(|u| *u >= 0)?;
    Some(apps.by_id(appmeta::SOURCE_PCAPDROID, i64::from(uid)))
}

enum Step {
    End,
    Skip(usize),
    Packet(PacketAt),
}

/// `if_tsresol` to units per second: the high bit selects a power of two,
/// otherwise a power of ten. `None` when it does not fit in 64 bits.
fn tsresol_units(v: u8) -> Option<u64> {
    let exp = u32::from(v & 0x7f);
    if v & 0x80 != 0 { 1u64.checked_shl(exp) } else { 10u64.checked_pow(exp) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_decimal_and_binary() {
        assert_eq!(tsresol_units(6), Some(1_000_000));
        assert_eq!(tsresol_units(9), Some(1_000_000_000));
        assert_eq!(tsresol_units(0x80 | 10), Some(1024));
        assert_eq!(tsresol_units(20), None);
        assert_eq!(tsresol_units(0x80 | 64), None);
    }

    fn open_bytes(b: &[u8]) -> Result<CaptureReader, CaptureError> {
        CaptureReader::open(Box::new(io::Cursor::new(b.to_vec())))
    }

    #[test]
    fn rejects_non_captures_with_their_magic() {
        match open_bytes(b"hello world") {
            Err(CaptureError::NotCapture { magic }) => assert_eq!(magic, "68656c6c"),
            other => panic!("unexpected {other:?}", other = other.err()),
        }
        assert!(matches!(open_bytes(b""), Err(CaptureError::Empty)));
        assert!(matches!(open_bytes(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0]), Err(CaptureError::Unsupported { .. })));
    }

    #[test]
    fn pcapng_sections_of_both_byte_orders_and_resolutions() {
        use writer::PcapngWriter;
        let mut w = PcapngWriter::new(Vec::new());
        w.section(false).unwrap();
        w.interface(Linktype::ETHERNET, 6).unwrap();
        w.packet(0, Timestamp::new(100, 5_000), b"first").unwrap();
        w.section(true).unwrap();
        w.interface(Linktype::RAW, 9).unwrap();
        w.interface(Linktype::LINUX_SLL2, 0x80 | 10).unwrap();
        w.packet(1, Timestamp::new(200, 500_000_000), b"third").unwrap();
        w.packet(0, Timestamp::new(150, 7), b"second").unwrap();
        let bytes = w.into_inner();
        // Read through a reader that hands out 3 bytes at a time.
        struct Slow(io::Cursor<Vec<u8>>);
        impl Read for Slow {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                let n = b.len().min(3);
                self.0.read(&mut b[..n])
            }
        }
        let mut r = CaptureReader::open(Box::new(Slow(io::Cursor::new(bytes)))).unwrap();
        let mut got = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            got.push((f.number, f.link, f.interface, f.ts, f.data.to_vec()));
        }
        assert_eq!(
            got,
            vec![
                (1, Linktype::ETHERNET, 0, Timestamp::new(100, 5_000), b"first".to_vec()),
                (2, Linktype::LINUX_SLL2, 1, Timestamp::new(200, 500_000_000), b"third".to_vec()),
                (3, Linktype::RAW, 0, Timestamp::new(150, 7), b"second".to_vec()),
            ]
        );
        assert!(r.take_notes().is_empty());
    }

    /// Frames' bytes held on to through [`Frame::block`] (as the workers
    /// of a capture do) stay as they were while the reader reads on: it
    /// moves to another buffer, or reuses one no one holds, never writes
    /// one that is held. Frames of all sizes, some larger than the
    /// window, read in uneven pieces.
    #[test]
    fn held_blocks_are_never_written() {
        let mut w = writer::PcapngWriter::new(Vec::new());
        w.section(false).unwrap();
        w.interface(Linktype::RAW, 6).unwrap();
        let mut x = 7u64;
        let mut rnd = move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut sent = Vec::new();
        for i in 0..3000u64 {
            let len = match i % 100 {
                0 => READ_CHUNK + (rnd() % 50_000) as usize,
                1..=10 => (rnd() % 60_000) as usize,
                _ => (rnd() % 1600) as usize,
            };
            let data: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            w.packet(0, Timestamp::new(i as i64, 0), &data).unwrap();
            sent.push(data);
        }
        struct Uneven(io::Cursor<Vec<u8>>, u64);
        impl Read for Uneven {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1.wrapping_mul(2862933555777941757).wrapping_add(3037000493);
                let n = b.len().min(1 + (self.1 >> 40) as usize % 300_000);
                self.0.read(&mut b[..n])
            }
        }
        let mut r = CaptureReader::open(Box::new(Uneven(io::Cursor::new(w.into_inner()), 1))).unwrap();
        // Every frame's block and where its bytes are in it; the last 500
        // frames' blocks held at any time (most are let go, to be reused).
        let mut held: std::collections::VecDeque<(usize, Shared, usize, usize)> = Default::default();
        let mut blocks = std::collections::HashSet::new();
        let mut n = 0;
        while let Some(f) = r.next_frame().unwrap() {
            assert_eq!(f.data, &sent[n][..], "frame {n}");
            let block = f.block.expect("read from the window");
            let at = f.data.as_ptr() as usize - block.as_ptr() as usize;
            blocks.insert(Arc::as_ptr(block) as usize);
            held.push_back((n, Arc::clone(block), at, f.data.len()));
            if held.len() > 500 {
                held.pop_front();
            }
            for (i, b, at, len) in held.iter().step_by(97) {
                assert_eq!(&b[*at..*at + len], &sent[*i][..], "frame {i} changed under its holder");
            }
            n += 1;
        }
        assert_eq!(n, sent.len());
        for (i, b, at, len) in &held {
            assert_eq!(&b[*at..*at + len], &sent[*i][..], "frame {i} changed under its holder");
        }
        // The reader did move between buffers, and reused some.
        assert!(blocks.len() > 2, "{} buffers", blocks.len());
    }

    /// A window grown for one large record goes back to its usual size
    /// when it moves off a store others hold, unless more is needed.
    #[test]
    fn a_shared_window_shrinks_back() {
        let mut w = Window::with_capacity(READ_CHUNK);
        w.make_room(3 * READ_CHUNK);
        assert!(w.cap >= 3 * READ_CHUNK);
        w.spare(0)[..10].copy_from_slice(b"0123456789");
        w.end += 10;
        w.start = 4;
        let held = Arc::clone(&w.store);
        assert!(w.spare(2 * READ_CHUNK).len() >= 2 * READ_CHUNK - 6);
        assert!(w.cap >= 2 * READ_CHUNK && !Arc::ptr_eq(&held, &w.store));
        let held = Arc::clone(&w.store);
        assert_eq!(w.spare(100).len(), READ_CHUNK - 6);
        assert_eq!((w.cap, w.bytes()), (READ_CHUNK, &b"456789"[..]));
        drop(held);
    }

    #[test]
    fn short_pcapng_block_length_is_an_error_not_a_panic() {
        // SHB with block length 8: pcap-parser would subtract past zero.
        let mut b = Vec::new();
        b.extend_from_slice(&PCAPNG_SHB_MAGIC.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&PCAPNG_BYTE_ORDER_MAGIC.to_le_bytes());
        b.extend_from_slice(&[0u8; 16]);
        let mut r = open_bytes(&b).expect("magic is pcapng");
        match r.next_frame() {
            Err(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, 0),
            other => panic!("expected corrupt block, got {:?}", other.map(|f| f.map(|f| f.number))),
        }
    }

    fn notes_of(bytes: Vec<u8>) -> (u64, Vec<CaptureNote>) {
        let mut r = open_bytes(&bytes).unwrap();
        let mut notes = Vec::new();
        let mut frames = 0;
        while let Some(_f) = r.next_frame().unwrap() {
            frames += 1;
            notes.extend(r.take_notes());
        }
        notes.extend(r.take_notes());
        (frames, notes)
    }

    #[test]
    fn repeated_notes_are_kept_up_to_the_cap_then_summarised_with_their_count() {
        use writer::PcapngWriter;
        let mut w = PcapngWriter::new(Vec::new());
        w.section(false).unwrap();
        w.interface(Linktype::ETHERNET, 6).unwrap();
        for _ in 0..1234 {
            w.packet(7, Timestamp::new(1, 0), b"lost").unwrap();
        }
        w.interface(Linktype::ETHERNET, 0x7f).unwrap();
        w.packet(0, Timestamp::new(1, 0), b"kept").unwrap();
        let (frames, notes) = notes_of(w.into_inner());
        assert_eq!(frames, 1);
        let cap = MAX_NOTES_PER_KIND as usize;
        assert_eq!(notes.len(), cap + 1 + 1, "{notes:#?}");
        assert!(notes[..cap].iter().all(|n| n.message.contains("names interface 7")));
        // Blocks are 36 bytes after a 28-byte section header and a 32-byte interface.
        assert_eq!(notes[cap - 1].offset, 28 + 32 + 36 * (cap as u64 - 1));
        assert!(notes[cap].message.contains("impossible if_tsresol"), "{notes:#?}");
        let summary = &notes[cap + 1];
        assert_eq!(summary.offset, 28 + 32 + 36 * cap as u64);
        assert!(summary.message.contains("names interface 7"), "{}", summary.message);
        assert!(summary.message.contains("(and 1,223 more like it: 1,234 in all"), "{}", summary.message);
    }

    #[test]
    fn interfaces_past_the_limit_are_not_kept_and_their_packets_are_noted() {
        use writer::PcapngWriter;
        let mut w = PcapngWriter::new(Vec::new());
        w.section(false).unwrap();
        for _ in 0..MAX_INTERFACES + 3 {
            w.interface(Linktype::RAW, 6).unwrap();
        }
        w.packet(MAX_INTERFACES as u32 + 1, Timestamp::new(1, 0), b"over").unwrap();
        w.packet(MAX_INTERFACES as u32 + 3, Timestamp::new(1, 0), b"missing").unwrap();
        w.packet(MAX_INTERFACES as u32 - 1, Timestamp::new(1, 0), b"last kept").unwrap();
        let (frames, notes) = notes_of(w.into_inner());
        assert_eq!(frames, 1);
        let msgs: Vec<&str> = notes.iter().map(|n| n.message.as_str()).collect();
        assert_eq!(msgs.len(), 3 + 1 + 1, "{msgs:#?}");
        assert!(msgs[0].starts_with("interface 65536 is over the limit"), "{msgs:#?}");
        assert!(msgs[3].contains("on interface 65537, over the limit"), "{msgs:#?}");
        assert!(msgs[4].contains("names interface 65539 but the section has 65539"), "{msgs:#?}");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(9_999_990), "9,999,990");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
