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
    /// The app that sent it, when the capture says.
    pub app: Option<Arc<crate::finding::AppRef>>,
    /// Bytes that are not text, kept only to search the device profile's
    /// byte forms in them ([`Emit::keep_binary`](super::Emit)).
    pub binary: bool,
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
    /// Boxed: most directions never keep text.
    p: Option<Box<StreamPayload>>,
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
        let binary = self.p.is_none() && !looks_text(data);
        if binary && !out.keep_binary {
            self.done = true;
            out.stats.other_bytes += data.len() as u64;
            return Verdict::DropDir;
        }
        let p = self.p.get_or_insert_with(|| {
            Box::new(StreamPayload {
                app: None,
                src: seg.src,
                dst: seg.dst,
                frame: seg.chunk.frame,
                ts: seg.chunk.ts,
                data: Vec::new(),
                dns_query: false,
                tls: None,
                binary,
            })
        });
        // `gap` may have filled the room: never assume some is left.
        let room = STREAM_SCAN_MAX.saturating_sub(p.data.len());
        let (kept, over) = data.split_at(room.min(data.len()));
        p.data.extend_from_slice(kept);
        out.stats.other_bytes += over.len() as u64;
        if p.data.len() >= STREAM_SCAN_MAX {
            self.done = true;
            self.flush(out);
            return Verdict::DropDir;
        }
        Verdict::Continue
    }

    /// A gap: never join text across it (a line break stands for it).
    /// Returns whether this direction is kept as text. The line break
    /// counts against the cap like any byte, and gaps in a row (frames
    /// cut to their headers by snaplen) share one: a run of gaps never
    /// grows the kept text past [`STREAM_SCAN_MAX`].
    pub fn gap(&mut self) -> bool {
        match self.p.as_mut() {
            Some(p) => {
                if p.data.len() < STREAM_SCAN_MAX && p.data.last() != Some(&b'\n') {
                    p.data.push(b'\n');
                }
                true
            }
            None => false,
        }
    }

    /// Bytes kept.
    pub fn held(&self) -> usize {
        self.p.as_ref().map_or(0, |p| p.data.capacity())
    }

    /// Hands what was kept to the output now; what follows is kept anew.
    pub fn shed(&mut self, out: &mut Emit) {
        self.flush(out);
    }

    /// Hands what was kept to the output.
    pub fn flush(&mut self, out: &mut Emit) {
        if let Some(p) = self.p.take() {
            out.streams.push(*p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Role;
    use crate::flow::Chunk;

    fn seg(data: &[u8]) -> Seg<'_> {
        let (src, dst) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:7000".parse().unwrap());
        Seg {
            role: Role::Client,
            src,
            dst,
            midstream: false,
            chunk: Chunk { data, frame: 1, ts: Timestamp::default() },
        }
    }

    /// Snaplen-cut frames: text to one byte under the cap, then gaps in a
    /// row, then more text. The kept text stops at the cap exactly, the
    /// rest is counted, and gaps in a row leave one line break.
    #[test]
    fn gaps_at_the_cap_never_overflow_it() {
        let mut out = Emit::default();
        let mut t = TextKeep::default();
        let text = vec![b'a'; STREAM_SCAN_MAX - 1];
        assert_eq!(t.keep(&mut out, &seg(&text)), Verdict::Continue);
        for _ in 0..5 {
            assert!(t.gap());
        }
        assert_eq!(t.p.as_ref().map(|p| p.data.len()), Some(STREAM_SCAN_MAX));
        assert_eq!(t.keep(&mut out, &seg(b"more text")), Verdict::DropDir);
        assert_eq!(out.streams.len(), 1);
        assert_eq!(out.streams[0].data.len(), STREAM_SCAN_MAX);
        assert_eq!(out.streams[0].data.last(), Some(&b'\n'));
        assert_eq!(out.stats.other_bytes, 9);

        let mut out = Emit::default();
        let mut t = TextKeep::default();
        t.keep(&mut out, &seg(b"one"));
        t.gap();
        t.gap();
        t.keep(&mut out, &seg(b"two"));
        t.flush(&mut out);
        assert_eq!(out.streams[0].data, b"one\ntwo");
    }
}
