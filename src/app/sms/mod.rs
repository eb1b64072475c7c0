//! sms: short messages and mobile identities sent in clear over the
//! telephony channels, so an identifier report sent "by SMS" is caught
//! like one sent over HTTP.
//!
//! The layers, each a pure parser on `&[u8]`:
//! - [`tpdu`]: the SMS transfer PDU (3GPP TS 23.040): SMS-SUBMIT and
//!   SMS-DELIVER, addresses, data coding (GSM 7-bit with the extension
//!   table, 8-bit, UCS-2), the user data header and its concatenation IEs.
//! - [`rp`]: the relay and connection layers (TS 24.011): RP-DATA with its
//!   addresses and TPDU (the body of an SMS over IMS, SIP MESSAGE
//!   `application/vnd.3gpp.sms`), and CP-DATA as carried in DTAP.
//! - [`nas`]: the TS 24.008 mobile identity (IMSI, IMEI, IMEISV, TMSI) in
//!   the MM/RR/GMM messages that carry it.
//! - [`gsmtap`]: GSMTAP (UDP 4729) with LAPDm on the GSM signalling
//!   channels: segmented frames reassembled, then the layer-3 message.
//! - [`concat`]: concatenated messages joined, with bounded memory.
//!
//! Input: bytes and the direction they travelled. Output: [`Sms`] values
//! and [`gsmtap::Event`]s; nothing here is wired into a scan.
//! Never: panic or overflow on any input, hold more than the named limits,
//! or drop text silently (what cannot be joined is emitted as partial).

pub mod build;
pub mod concat;
pub mod gsmtap;
pub mod nas;
pub mod rp;
pub mod tpdu;

#[cfg(test)]
mod tests;

pub use concat::{ConcatStats, MAX_PARTS_HELD, MAX_PARTS_PER_MESSAGE, Reassembler};
pub use gsmtap::{Event, Gsmtap, GsmtapStats};
pub use nas::{IdentityKind, L3Message, MobileIdentity};

/// Which TPDU carried a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmsKind {
    /// SMS-SUBMIT: mobile to service centre (the device sent it).
    Submit,
    /// SMS-DELIVER: service centre to mobile. Seen in the uplink it was
    /// sent by a test rig or SIM tool acting as the network.
    Deliver,
}

impl SmsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::Submit => "SMS-SUBMIT",
            SmsKind::Deliver => "SMS-DELIVER",
        }
    }
}

/// The character set of the user data (TS 23.038 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// GSM 7-bit default alphabet, packed septets.
    Gsm7,
    /// 8-bit data: shown as UTF-8 when it is, else byte by byte (Latin-1).
    EightBit,
    /// UCS-2, read as UTF-16BE (surrogate pairs joined, as phones send).
    Ucs2,
}

impl Alphabet {
    pub fn as_str(self) -> &'static str {
        match self {
            Alphabet::Gsm7 => "gsm7",
            Alphabet::EightBit => "8bit",
            Alphabet::Ucs2 => "ucs2",
        }
    }
}

/// One short message, joined from its parts when it was concatenated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sms {
    pub kind: SmsKind,
    /// Sent by the device (GSMTAP uplink flag, or the caller's direction).
    pub uplink: bool,
    /// The recipient of a SUBMIT (TP-DA), the sender of a DELIVER (TP-OA):
    /// digits with a leading `+` when international, or alphanumeric text.
    pub address: Option<String>,
    /// RP-Destination address (the service centre of a SUBMIT), if any.
    pub rp_destination: Option<String>,
    pub text: String,
    /// Alphabet of the (first) part.
    pub alphabet: Alphabet,
    /// Parts joined into `text` (1 for a single message).
    pub parts: u8,
    /// What was odd: missing parts, truncated user data, shift tables...
    pub notes: Vec<String>,
}

/// Concatenation information element (TS 23.040 9.2.3.24.1 and .8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    /// 1-based sequence number of this part.
    pub seq: u8,
}

/// One decoded TPDU with its place in a concatenated message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsPart {
    pub sms: Sms,
    pub concat: Option<Concat>,
}

/// Why bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    #[error("{0} truncated")]
    Truncated(&'static str),
    #[error("{field} length {len} exceeds its limit")]
    TooLong { field: &'static str, len: usize },
    #[error("{field}: reserved value {value:#04x}")]
    Reserved { field: &'static str, value: u8 },
    #[error("{field}: not this protocol (value {value:#04x})")]
    Unexpected { field: &'static str, value: u8 },
    #[error("{0}: nibble is not a decimal digit")]
    BadDigit(&'static str),
    /// A well-formed PDU that carries no user text (reports, commands).
    #[error("{0} carries no user message")]
    NoUserMessage(&'static str),
}

impl SmsError {
    /// Is this damage (as opposed to a valid PDU of no interest)?
    pub fn is_malformed(&self) -> bool {
        !matches!(self, SmsError::NoUserMessage(_))
    }
}

/// Decodes an RPDU (RP-DATA carrying a TPDU), e.g. the body of a SIP
/// MESSAGE of type `application/vnd.3gpp.sms`. `uplink` is the direction
/// the bytes travelled; the TPDU is read in the direction the RP message
/// type says. RP-ACK, RP-ERROR and RP-SMMA give `Ok(None)`.
pub fn from_rpdu(rpdu: &[u8], uplink: bool) -> Result<Option<SmsPart>, SmsError> {
    let rp::Rp::Data { from_ms, destination, tpdu, .. } = rp::decode(rpdu)? else {
        return Ok(None);
    };
    let t = tpdu::decode(tpdu, from_ms)?;
    Ok(Some(t.into_part(uplink, destination)))
}

/// Harness for the `sms` fuzz target: the first byte picks the direction,
/// the rest goes to every decoder, then is cut by 1-byte lengths into
/// GSMTAP datagrams. Must return without panicking on any input.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let up = first & 1 != 0;
    let _ = tpdu::decode(rest, up);
    let _ = from_rpdu(rest, up);
    let _ = rp::decode_cp(rest);
    let _ = nas::l3_identity(rest);
    let _ = nas::mobile_identity(rest);
    let mut concat = Reassembler::new();
    let mut msgs = Vec::new();
    let mut g = Gsmtap::new();
    let mut out = Vec::new();
    let mut tail = rest;
    while let Some((&len, t)) = tail.split_first() {
        let n = usize::from(len).min(t.len());
        g.datagram(&t[..n], &mut out);
        if let Ok(Some(part)) = from_rpdu(&t[..n], up) {
            concat.push(part, &mut msgs);
        }
        tail = &t[n..];
    }
    g.finish(&mut out);
    concat.finish(&mut msgs);
}
