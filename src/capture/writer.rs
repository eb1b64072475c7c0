//! A small capture writer: legacy pcap (either byte order, micro- or
//! nanosecond) and pcapng (several sections and interfaces, any
//! `if_tsresol`). Used to build the bundled fixtures, the tests' captures
//! and the benchmark input; it writes exactly what it is given.

use std::io::{self, Write};

use super::Linktype;
use crate::util::Timestamp;

/// Writes a legacy pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    big_endian: bool,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(mut out: W, link: Linktype, big_endian: bool, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut w = |v: &[u8]| out.write_all(v);
        let u32b = |v: u32| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        let u16b = |v: u16| {
            if big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
        };
        w(&u32b(magic))?;
        w(&u16b(2))?;
        w(&u16b(4))?;
        w(&u32b(0))?; // thiszone
        w(&u32b(0))?; // sigfigs
        w(&u32b(262_144))?; // snaplen
        w(&u32b(link.0 as u32))?;
        Ok(PcapWriter { out, big_endian, nanos })
    }

    pub fn packet(&mut self, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        let frac = if self.nanos { ts.nanos } else { ts.nanos / 1000 };
        for v in [ts.secs as u32, frac, data.len() as u32, data.len() as u32] {
            let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
            self.out.write_all(&b)?;
        }
        self.out.write_all(data)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Writes a pcapng file: call [`PcapngWriter::section`] first, then
/// [`PcapngWriter::interface`], then packets.
pub struct PcapngWriter<W: Write> {
    out: W,
    big_endian: bool,
    /// Units per second of each interface of the current section.
    resolutions: Vec<u64>,
}

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;

impl<W: Write> PcapngWriter<W> {
    pub fn new(out: W) -> Self {
        PcapngWriter { out, big_endian: false, resolutions: Vec::new() }
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let (t, l) = (self.u32b(block_type), self.u32b(len));
        self.out.write_all(&t)?;
        self.out.write_all(&l)?;
        self.out.write_all(body)?;
        self.out.write_all(&[0u8; 3][..pad])?;
        self.out.write_all(&l)
    }

    /// Starts a new section in the given byte order; interfaces reset.
    pub fn section(&mut self, big_endian: bool) -> io::Result<()> {
        self.big_endian = big_endian;
        self.resolutions.clear();
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32b(0x1A2B_3C4D));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        self.block(0x0A0D_0D0A, &body)
    }

    /// Adds an interface; `tsresol` is the raw `if_tsresol` byte (6 for
    /// microseconds, 9 for nanoseconds, `0x80 | n` for 2^-n). Returns its id.
    pub fn interface(&mut self, link: Linktype, tsresol: u8) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16b(link.0 as u16));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u32b(262_144));
        body.extend_from_slice(&self.u16b(OPT_IF_TSRESOL));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&[tsresol, 0, 0, 0]);
        body.extend_from_slice(&self.u16b(OPT_ENDOFOPT));
        body.extend_from_slice(&self.u16b(0));
        self.block(1, &body)?;
        // An impossible resolution (for crafted files) is read as
        // microseconds, as the reader does.
        let units = super::tsresol_units(tsresol).unwrap_or(super::DEFAULT_TSRESOL);
        self.resolutions.push(units);
        Ok(self.resolutions.len() as u32 - 1)
    }

    /// Writes an enhanced packet block on interface `if_id`.
    pub fn packet(&mut self, if_id: u32, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        self.packet_with_options(if_id, ts, data, &[])
    }

    /// An enhanced packet block with options (`(code, value)`, padded and
    /// ended by `opt_endofopt` here), e.g. comments (code 1).
    pub fn packet_with_options(
        &mut self,
        if_id: u32,
        ts: Timestamp,
        data: &[u8],
        options: &[(u16, &[u8])],
    ) -> io::Result<()> {
        let mut opts = Vec::new();
        for (code, value) in options {
            opts.extend_from_slice(&self.u16b(*code));
            opts.extend_from_slice(&self.u16b(value.len() as u16));
            opts.extend_from_slice(value);
            opts.resize(opts.len().next_multiple_of(4), 0);
        }
        if !options.is_empty() {
            opts.extend_from_slice(&[0u8; 4]);
        }
        self.packet_raw_options(if_id, ts, data, &opts)
    }

    /// An enhanced packet block followed by `options` as given (crafted
    /// files: malformed option lists).
    pub fn packet_raw_options(&mut self, if_id: u32, ts: Timestamp, data: &[u8], options: &[u8]) -> io::Result<()> {
        let per = self.resolutions.get(if_id as usize).copied().unwrap_or(1_000_000);
        let units = ts.secs as u64 * per + (u128::from(ts.nanos) * u128::from(per) / 1_000_000_000) as u64;
        let mut body = Vec::with_capacity(20 + data.len());
        body.extend_from_slice(&self.u32b(if_id));
        body.extend_from_slice(&self.u32b((units >> 32) as u32));
        body.extend_from_slice(&self.u32b(units as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(options);
        self.block(6, &body)
    }

    /// A custom block (type 0xBAD) of private enterprise number `pen`.
    pub fn custom(&mut self, pen: u32, data: &[u8]) -> io::Result<()> {
        let mut body = self.u32b(pen).to_vec();
        body.extend_from_slice(data);
        self.block(0xBAD, &body)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
