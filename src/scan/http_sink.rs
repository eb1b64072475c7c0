//! The application layer the flow table drives: each direction of a
//! connection gets a request parser on its first bytes; directions that
//! are not requests are dropped by the flow layer, except streams that are
//! neither TLS nor HTTP: their first [`STREAM_SCAN_MAX`] bytes are kept
//! as a [`StreamPayload`] when they look like text (SIP, custom telemetry
//! protocols), to be scanned with the same detectors.

use crate::flow::{Chunk, Ends, Interest, StreamHandler};
use crate::http::{HttpLimits, HttpRequest, NotRequests, RequestStream};
use crate::util::Timestamp;

const DNS_PORT: u16 = 53;

/// Distinct TLS server names kept per capture.
pub const MAX_SERVER_NAMES: usize = 1000;

/// Bytes of a non-HTTP, non-TLS direction kept for scanning.
pub const STREAM_SCAN_MAX: usize = 64 << 10;
/// Share of printable bytes (in the first [`TEXT_SNIFF`]) for a payload to
/// count as text worth scanning.
const MIN_TEXT_RATIO: f32 = 0.85;
const TEXT_SNIFF: usize = 256;

/// Payload of a non-HTTP stream or datagram, for detection.
#[derive(Debug)]
pub struct StreamPayload {
    pub src: std::net::SocketAddr,
    pub dst: std::net::SocketAddr,
    pub frame: u64,
    pub ts: Timestamp,
    pub data: Vec<u8>,
    /// A DNS query name (`data` holds the name) rather than stream bytes.
    pub dns_query: bool,
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

/// One direction's state.
struct Dir {
    ends: Ends,
    rs: RequestStream,
    /// Bytes kept of a non-HTTP text stream.
    other: Option<StreamPayload>,
}

/// Per-connection state: a parser per direction, created on first data.
#[derive(Default)]
pub struct Conn {
    dirs: [Option<Dir>; 2],
}

/// Collects finished requests in `out`.
pub struct HttpSink {
    limits: HttpLimits,
    pub out: Vec<HttpRequest>,
    /// Directions recognised as TLS (not decrypted, not inspected).
    pub tls_streams: u64,
    /// Payload bytes not inspected, by why: TLS, server responses, other.
    pub tls_bytes: u64,
    pub response_bytes: u64,
    pub other_bytes: u64,
    /// Non-HTTP text streams to scan.
    pub streams: Vec<StreamPayload>,
    /// Server names of TLS connections (ClientHello SNI), in order of
    /// first appearance, at most [`MAX_SERVER_NAMES`].
    pub tls_names: Vec<String>,
}

impl HttpSink {
    pub fn new(limits: HttpLimits) -> Self {
        HttpSink {
            limits,
            out: Vec::new(),
            tls_streams: 0,
            tls_bytes: 0,
            response_bytes: 0,
            other_bytes: 0,
            streams: Vec::new(),
            tls_names: Vec::new(),
        }
    }

    /// Keeps bytes of a non-HTTP direction while it looks like text and
    /// is under the cap; says whether to go on.
    fn keep_other(&mut self, dir: &mut Dir, chunk: Chunk<'_>) -> Interest {
        // DNS over TCP: a 2-byte length, then a message; its query name is
        // scanned like those sent over UDP (first message of the stream).
        if dir.ends.dst.port() == DNS_PORT && dir.other.is_none() {
            let len = chunk.data.get(..2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])));
            let msg = len.and_then(|n| chunk.data.get(2..2 + n));
            if let Some(q) = msg.and_then(crate::dns::query_name) {
                self.streams.push(StreamPayload {
                    src: dir.ends.src,
                    dst: dir.ends.dst,
                    frame: chunk.frame,
                    ts: chunk.ts,
                    data: q.into_bytes(),
                    dns_query: true,
                });
            }
            self.other_bytes += chunk.data.len() as u64;
            return Interest::Ignore;
        }
        let p = dir.other.get_or_insert_with(|| StreamPayload {
            src: dir.ends.src,
            dst: dir.ends.dst,
            frame: chunk.frame,
            ts: chunk.ts,
            data: Vec::new(),
            dns_query: false,
        });
        if p.data.is_empty() && !looks_text(chunk.data) {
            dir.other = None;
            self.other_bytes += chunk.data.len() as u64;
            return Interest::Ignore;
        }
        let room = STREAM_SCAN_MAX - p.data.len();
        let take = room.min(chunk.data.len());
        p.data.extend_from_slice(&chunk.data[..take]);
        self.other_bytes += (chunk.data.len() - take) as u64;
        if p.data.len() >= STREAM_SCAN_MAX {
            if let Some(p) = dir.other.take() {
                self.streams.push(p);
            }
            return Interest::Ignore;
        }
        Interest::Inspect
    }
}

impl StreamHandler for HttpSink {
    type State = Conn;

    fn data(&mut self, st: &mut Conn, dir: usize, ends: Ends, chunk: Chunk<'_>) -> Interest {
        let d = st.dirs[dir].get_or_insert_with(|| {
            let mut rs = RequestStream::new(self.limits);
            if ends.midstream {
                rs.picked_up_midstream();
            }
            Dir { ends, rs, other: None }
        });
        if d.rs.ignored() == Some(NotRequests::Other) {
            return self.keep_other(d, chunk);
        }
        let interest = d.rs.feed(ends.src, ends.dst, chunk, &mut self.out);
        if interest == Interest::Ignore {
            // The chunk that revealed the direction is not inspected either.
            let n = chunk.data.len() as u64;
            match d.rs.ignored() {
                Some(NotRequests::Tls) => {
                    self.tls_streams += 1;
                    self.tls_bytes += n;
                    if let Some(name) = crate::tls::client_hello_sni(chunk.data) {
                        if self.tls_names.len() < MAX_SERVER_NAMES && !self.tls_names.contains(&name) {
                            self.tls_names.push(name);
                        }
                    }
                }
                Some(NotRequests::HttpResponses) => self.response_bytes += n,
                _ => return self.keep_other(d, chunk),
            }
        }
        interest
    }

    fn gap(&mut self, st: &mut Conn, dir: usize, ends: Ends, len: u64) {
        if let Some(d) = st.dirs[dir].as_mut() {
            match d.other.as_mut() {
                // Never join text across a gap: a line break stands for it.
                Some(p) => p.data.push(b'\n'),
                None => d.rs.gap(ends.src, ends.dst, len, &mut self.out),
            }
        }
    }

    fn close(&mut self, st: Conn, ignored: [u64; 2]) {
        for (i, dir) in st.dirs.into_iter().enumerate() {
            let Some(mut d) = dir else { continue };
            if let Some(p) = d.other.take() {
                self.streams.push(p);
            }
            match d.rs.ignored() {
                Some(NotRequests::Tls) => self.tls_bytes += ignored[i],
                Some(NotRequests::HttpResponses) => self.response_bytes += ignored[i],
                Some(NotRequests::Other) => self.other_bytes += ignored[i],
                None => d.rs.close(d.ends.src, d.ends.dst, &mut self.out),
            }
        }
    }
}
