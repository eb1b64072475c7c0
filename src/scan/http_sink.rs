//! The application layer the flow table drives: each direction of a
//! connection gets a request parser on its first bytes; directions that
//! are not requests (TLS, responses) are dropped by the flow layer.

use crate::flow::{Chunk, Ends, Interest, StreamHandler};
use crate::http::{HttpLimits, HttpRequest, NotRequests, RequestStream};

/// Per-connection state: a parser per direction, created on first data.
#[derive(Default)]
pub struct Conn {
    dirs: [Option<(Ends, RequestStream)>; 2],
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
}

impl HttpSink {
    pub fn new(limits: HttpLimits) -> Self {
        HttpSink { limits, out: Vec::new(), tls_streams: 0, tls_bytes: 0, response_bytes: 0, other_bytes: 0 }
    }
}

impl StreamHandler for HttpSink {
    type State = Conn;

    fn data(&mut self, st: &mut Conn, dir: usize, ends: Ends, chunk: Chunk<'_>) -> Interest {
        let (_, rs) = st.dirs[dir].get_or_insert_with(|| (ends, RequestStream::new(self.limits)));
        let interest = rs.feed(ends.src, ends.dst, chunk, &mut self.out);
        if interest == Interest::Ignore {
            // The chunk that revealed the direction is not inspected either.
            let n = chunk.data.len() as u64;
            match rs.ignored() {
                Some(NotRequests::Tls) => {
                    self.tls_streams += 1;
                    self.tls_bytes += n;
                }
                Some(NotRequests::HttpResponses) => self.response_bytes += n,
                _ => self.other_bytes += n,
            }
        }
        interest
    }

    fn gap(&mut self, st: &mut Conn, dir: usize, ends: Ends, len: u64) {
        if let Some((_, rs)) = st.dirs[dir].as_mut() {
            rs.gap(ends.src, ends.dst, len, &mut self.out);
        }
    }

    fn close(&mut self, st: Conn, ignored: [u64; 2]) {
        for (d, dir) in st.dirs.into_iter().enumerate() {
            let Some((ends, mut rs)) = dir else { continue };
            match rs.ignored() {
                Some(NotRequests::Tls) => self.tls_bytes += ignored[d],
                Some(NotRequests::HttpResponses) => self.response_bytes += ignored[d],
                Some(NotRequests::Other) => self.other_bytes += ignored[d],
                None => rs.close(ends.src, ends.dst, &mut self.out),
            }
        }
    }
}
