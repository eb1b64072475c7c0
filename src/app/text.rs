//! Text streams: the first [`STREAM_SCAN_MAX`] bytes of a direction that
//! is neither HTTP nor TLS, kept when they look like text (SIP, custom
//! telemetry protocols, decrypted non-HTTP payloads), to be scanned with
//! the same detectors as requests.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{Emit, Seg, Verdict};
use crate::finding::TlsInfo;
use crate::util::Timestamp;

/// Bytes of a non-HTTP, non-TLS direction kept for scanning.
pub const STREAM_SCAN_MAX: usize = 64 << 10;
/// Share of printable bytes (in the first [`TEXT_SNIFF`]) for a payload to
/// count as text worth scanning.
const MIN_TEXT_RATIO: f32 = 0.85;
const TEXT_SNIFF: usize = 256;

/// Payload of a non-HTTP stream or datagram, for detection.
#[derive(Debug)]
pub struct StreamPayload {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frame: u64,
    pub ts: Timestamp,
    pub data: Vec<u8>,
    /// A DNS query name (`data` holds the name) rather than stream bytes.
    pub dns_query: bool,
    /// The TLS session it was decrypted from; `None` in clear.
    pub tls: Option<Arc<TlsInfo>>,
}

/// Does `b` start like text (printable ASCII, UTF-8, line ends)?
pub fn looks_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(TEXT_SNIFF)];
    if head.is_empty() {
        return false;
    }
    let ok = head.iter().filter(|c| matches!(c, b'\t' | b'\n' | b'\r' | 0x20..=0x7e | 0x80..)).count();
    ok as f32 >= head.len() as f32 * MIN_TEXT_RATIO
}

/// The text kept of one direction.
#[derive(Debug, Default)]
pub struct TextKeep {
    p: Option<StreamPayload>,
    /// The direction turned out not to be text, or reached the cap.
    done: bool,
}

impl TextKeep {
    /// Keeps bytes while the direction looks like text and is under the
    /// cap; says whether to go on.
    pub fn keep(&mut self, out: &mut Emit, seg: &Seg<'_>) -> Verdict {
        let data = seg.chunk.data;
        if self.done {
            out.stats.other_bytes += data.len() as u64;
            return Verdict::DropDir;
        }
        if self.p.is_none() && !looks_text(data) {
            self.done = true;
            out.stats.other_bytes += data.len() as u64;
            return Verdict::DropDir;
        }
        let p = self.p.get_or_insert_with(|| StreamPayload {
            src: seg.src,
            dst: seg.dst,
            frame: seg.chunk.frame,
            ts: seg.chunk.ts,
            data: Vec::new(),
            dns_query: false,
            tls: None,
        });
        let room = STREAM_SCAN_MAX - p.data.len();
        let take = room.min(data.len());
        p.data.extend_from_slice(&data[..take]);
        out.stats.other_bytes += (data.len() - take) as u64;
        if p.data.len() >= STREAM_SCAN_MAX {
            self.done = true;
            self.flush(out);
            return Verdict::DropDir;
        }
        Verdict::Continue
    }

    /// A gap: never join text across it (a line break stands for it).
    /// Returns whether this direction is kept as text.
    pub fn gap(&mut self) -> bool {
        match self.p.as_mut() {
            Some(p) => {
                p.data.push(b'\n');
                true
            }
            None => false,
        }
    }

    /// Hands what was kept to the output.
    pub fn flush(&mut self, out: &mut Emit) {
        if let Some(p) = self.p.take() {
            out.streams.push(p);
        }
    }
}
