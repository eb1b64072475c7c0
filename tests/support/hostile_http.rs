//! Hostile HTTP inputs (issue 11, "nothing lost in silence"): requests
//! whose body length is malformed (each on a connection of its own, with
//! a form body carrying an IMEI and a valid request after it), a
//! multipart body with more parts than the part limit, and a text stream
//! cut by snaplen into many gaps past its keep cap (the `packets` fuzz
//! reproducer).

use etherparse::PacketBuilder;

use super::wiko::IMEI1;
use super::{Net, ts};

/// Content-Length values no recipient may take as a length: over
/// `i64::MAX`, over `u64::MAX`, signed, a list of different values, hex,
/// 20 digits, empty, and one with a control byte.
pub const BAD_LENGTHS: &[&str] = &[
    "9223372036854775808",
    "18446744073709551616",
    "-5",
    "+12",
    "12, 13",
    "0x10",
    "12345678901234567890",
    "",
    "1\x1b[2J2",
];

/// The form body every malformed-length request carries.
pub fn form_body() -> String {
    format!("imei={IMEI1}&app=com.example")
}

/// The request that follows on the same connection; it is valid, and its
/// URI names the case so each can be found.
pub fn follow_up(case: usize) -> String {
    format!("GET /after?case={case} HTTP/1.1\r\nHost: h.example\r\n\r\n")
}

/// `POST /upload?case=<case>` with `Content-Length: <value>` and the form
/// body; the body ends with a line end when `crlf_after_body`, else the
/// next request follows the body's last byte at once (a client that sent
/// the body's real length).
pub fn bad_length_request(case: usize, value: &str, crlf_after_body: bool) -> Vec<u8> {
    let body = form_body();
    let mut r = format!(
        "POST /upload?case={case} HTTP/1.1\r\nHost: h.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {value}\r\n\r\n{body}"
    );
    if crlf_after_body {
        r.push_str("\r\n");
    }
    r.push_str(&follow_up(case));
    r.into_bytes()
}

/// One TCP connection per malformed length (both line-end shapes), the
/// client sending the bad request and its follow-up in segments of `mss`.
pub fn bad_lengths_capture(mss: usize) -> Net {
    let mut net = Net::default();
    let mut case = 0;
    for crlf in [false, true] {
        for value in BAD_LENGTHS {
            let t = ts(1_700_000_000 + case as i64, 0);
            let mut c = net.connect(t, &format!("10.1.0.5:{}", 40_000 + case), "192.0.2.80:80", 1000 + case as u32, 9);
            net.send(ts(1_700_000_000 + case as i64, 100_000), &mut c, &bad_length_request(case, value, crlf), mss);
            net.reply(ts(1_700_000_000 + case as i64, 200_000), &mut c, b"HTTP/1.1 400 Bad Request\r\n\r\n", 1400);
            net.close(ts(1_700_000_000 + case as i64, 300_000), &mut c);
            case += 1;
        }
    }
    net
}

/// Transfer-Encoding shapes: chunked with a Content-Length (chunked
/// wins), a coding that does not end in chunked, and an unknown coding.
pub fn transfer_encoding_requests() -> Vec<(&'static str, Vec<u8>)> {
    let body = form_body();
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let mk = |te: &str, cl: Option<&str>, payload: &str| {
        let cl = cl.map(|v| format!("Content-Length: {v}\r\n")).unwrap_or_default();
        format!(
            "POST /te HTTP/1.1\r\nHost: h.example\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: {te}\r\n{cl}\r\n{payload}{}",
            follow_up(0)
        )
        .into_bytes()
    };
    vec![
        ("chunked and Content-Length", mk("chunked", Some("3"), &chunked)),
        ("chunked and a bad Content-Length", mk("chunked", Some("+3"), &chunked)),
        ("gzip, not chunked", mk("gzip", None, &format!("{body}\r\n"))),
        ("unknown coding", mk("x-custom, chunked", None, &chunked)),
        ("chunked then gzip", mk("chunked, gzip", None, &format!("{body}\r\n"))),
    ]
}

/// A multipart body of `parts` parts, the IMEI in the last one.
pub fn many_parts_request(parts: usize) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..parts {
        let value = if i + 1 == parts { IMEI1.to_string() } else { format!("v{i}") };
        body.push_str(&format!("--b0\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\n{value}\r\n"));
    }
    body.push_str("--b0--\r\n");
    format!(
        "POST /parts HTTP/1.1\r\nHost: h.example\r\nContent-Type: multipart/form-data; boundary=b0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A `packets` harness input (first byte: link type raw IP, then frames
/// each behind a one-byte length): a text stream (not HTTP) whose frames
/// are cut by snaplen, each leaving a gap, filled to one byte under the
/// text keep cap (`STREAM_SCAN_MAX`, 64 KiB); then frames cut to their
/// headers alone, gaps one after the other; then more text. Each gap
/// stands as a line end in the kept text: the run of gaps once pushed it
/// past the cap, and the room left wrapped.
pub fn text_stream_snaplen_gaps() -> Vec<u8> {
    const CAP: usize = 64 << 10;
    const CAPTURED: usize = 215; // 255-byte frames: 40 header bytes
    const ANNOUNCED: usize = 1000;
    let (c, s) = (([10, 0, 0, 1], 40_000u16), ([10, 0, 0, 2], 7_000u16));
    let (mut cseq, mut sseq) = (0x1000_0000u32, 0x2000_0000u32);
    let mut out = vec![1u8]; // harness::packets: LINKS[1] = raw IP
    let mut frame = |from_client: bool, seq: u32, ack: u32, syn: bool, payload: &[u8], captured: usize| {
        let ((sa, sp), (da, dp)) = if from_client { (c, s) } else { (s, c) };
        let mut b = PacketBuilder::ipv4(sa, da, 64).tcp(sp, dp, seq, 65_535);
        if !(syn && from_client) {
            b = b.ack(ack);
        }
        if syn {
            b = b.syn();
        }
        let mut p = Vec::new();
        b.write(&mut p, payload).expect("write to vec");
        p.truncate(40 + captured);
        out.push(u8::try_from(p.len()).expect("frame under 256 bytes"));
        out.extend_from_slice(&p);
    };
    frame(true, cseq, 0, true, b"", 0);
    cseq += 1;
    frame(false, sseq, cseq, true, b"", 0);
    sseq += 1;
    frame(true, cseq, sseq, false, b"", 0);
    let line = b"telemetry sample=0042 state=ok note=snaplen-cut text stream ".repeat(20);
    let mut kept = 0;
    // Cut frames: `CAPTURED` bytes kept plus one line end per gap.
    while kept + CAPTURED + 1 < CAP - 1 {
        frame(true, cseq, sseq, false, &line[..ANNOUNCED], CAPTURED);
        cseq += ANNOUNCED as u32;
        kept += CAPTURED + 1;
    }
    let last = CAP - 1 - kept - 1;
    frame(true, cseq, sseq, false, &line[..ANNOUNCED], last);
    cseq += ANNOUNCED as u32;
    // Headers alone: gaps in a row.
    for _ in 0..8 {
        frame(true, cseq, sseq, false, &line[..ANNOUNCED], 0);
        cseq += ANNOUNCED as u32;
    }
    frame(true, cseq, sseq, false, &line[..CAPTURED], CAPTURED);
    out
}
