//! rp: the short message relay (RP) and connection (CP) layers of 3GPP
//! TS 24.011: RP-DATA / RP-ACK / RP-ERROR / RP-SMMA (section 7.3, 8.2)
//! and CP-DATA / CP-ACK / CP-ERROR (7.2, 8.1) as carried in DTAP with
//! protocol discriminator 9.
//!
//! Input: an RPDU (the body of SMS over IMS, or CP-User data) or a DTAP
//! message. Output: the message with borrowed payload. Never: read past a
//! length-value field or accept one that runs out of the buffer.

use super::SmsError;
use super::tpdu::bcd_char;

/// RP message types (8.2.2), low 3 bits; the even ones go MS to network.
const RP_DATA_MS: u8 = 0;
const RP_DATA_N: u8 = 1;
const RP_ACK_MS: u8 = 2;
const RP_ACK_N: u8 = 3;
const RP_ERROR_MS: u8 = 4;
const RP_ERROR_N: u8 = 5;
const RP_SMMA: u8 = 6;
/// Longest RP address value (8.2.5.1/2: at most 12 octets with the TOA).
const MAX_RP_ADDRESS: usize = 11;
/// TS 24.007 protocol discriminator of SMS messages.
pub const PD_SMS: u8 = 0x09;
/// CP message types (8.1.3).
const CP_DATA: u8 = 0x01;
const CP_ACK: u8 = 0x04;
const CP_ERROR: u8 = 0x10;
/// RP address type of number: international.
const TON_INTERNATIONAL: u8 = 1;

/// One RP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rp<'a> {
    Data {
        /// RP-DATA MS->N (type 0) rather than N->MS (type 1).
        from_ms: bool,
        reference: u8,
        /// The service centre of an N->MS message.
        originator: Option<String>,
        /// The service centre of an MS->N message.
        destination: Option<String>,
        tpdu: &'a [u8],
    },
    Ack {
        from_ms: bool,
        reference: u8,
    },
    Error {
        from_ms: bool,
        reference: u8,
        /// The RP-Cause value (8.2.5.4), if present.
        cause: Option<u8>,
    },
    Smma {
        reference: u8,
    },
}

/// Decodes an RPDU.
pub fn decode(rpdu: &[u8]) -> Result<Rp<'_>, SmsError> {
    let [mti, reference, rest @ ..] = rpdu else {
        return Err(SmsError::Truncated("RP header"));
    };
    let (mti, reference) = (mti & 0b111, *reference);
    let from_ms = mti % 2 == 0;
    match mti {
        RP_DATA_MS | RP_DATA_N => {
            let (originator, rest) = rp_address(rest, "RP-Originator Address")?;
            let (destination, rest) = rp_address(rest, "RP-Destination Address")?;
            let (tpdu, _) = lv(rest, "RP-User Data")?;
            Ok(Rp::Data { from_ms, reference, originator, destination, tpdu })
        }
        RP_ACK_MS | RP_ACK_N => Ok(Rp::Ack { from_ms, reference }),
        RP_ERROR_MS | RP_ERROR_N => {
            let cause = lv(rest, "RP-Cause").ok().and_then(|(c, _)| c.first().map(|v| v & 0x7f));
            Ok(Rp::Error { from_ms, reference, cause })
        }
        RP_SMMA => Ok(Rp::Smma { reference }),
        _ => Err(SmsError::Reserved { field: "RP-MTI", value: mti }),
    }
}

/// A length-value field: the value and what follows.
pub(super) fn lv<'a>(b: &'a [u8], field: &'static str) -> Result<(&'a [u8], &'a [u8]), SmsError> {
    let (&len, rest) = b.split_first().ok_or(SmsError::Truncated(field))?;
    let len = usize::from(len);
    if len > rest.len() {
        return Err(SmsError::Truncated(field));
    }
    Ok(rest.split_at(len))
}

/// RP-Originator / RP-Destination address (8.2.5.1/2): LV of a type of
/// address octet and BCD digits up to the 0xF filler.
fn rp_address<'a>(b: &'a [u8], field: &'static str) -> Result<(Option<String>, &'a [u8]), SmsError> {
    let (v, rest) = lv(b, field)?;
    if v.len() > MAX_RP_ADDRESS {
        return Err(SmsError::TooLong { field, len: v.len() });
    }
    let Some((&toa, digits)) = v.split_first() else {
        return Ok((None, rest));
    };
    Ok((Some(bcd_number(toa, digits, field)?), rest))
}

/// A TS 24.008 10.5.4.7 style number: `+` when international, digits low
/// nibble first, the 0xF filler ending it.
pub(super) fn bcd_number(toa: u8, digits: &[u8], field: &'static str) -> Result<String, SmsError> {
    let mut s = String::with_capacity(digits.len() * 2 + 1);
    if (toa >> 4) & 0b111 == TON_INTERNATIONAL {
        s.push('+');
    }
    for (i, nibble) in digits.iter().flat_map(|b| [b & 0x0f, b >> 4]).enumerate() {
        match bcd_char(nibble) {
            Some(c) => s.push(c),
            // The filler may only end the number.
            None if i + 1 == digits.len() * 2 => break,
            None => return Err(SmsError::BadDigit(field)),
        }
    }
    Ok(s)
}

/// One CP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cp<'a> {
    /// CP-DATA: the RPDU it carries.
    Data {
        ti: u8,
        rpdu: &'a [u8],
    },
    Ack {
        ti: u8,
    },
    Error {
        ti: u8,
        cause: Option<u8>,
    },
}

/// Decodes a DTAP message of protocol discriminator 9 (SMS).
pub fn decode_cp(l3: &[u8]) -> Result<Cp<'_>, SmsError> {
    let [pd, mt, rest @ ..] = l3 else {
        return Err(SmsError::Truncated("CP header"));
    };
    if pd & 0x0f != PD_SMS {
        return Err(SmsError::Unexpected { field: "protocol discriminator", value: pd & 0x0f });
    }
    // Transaction identifier: flag and value in the high nibble.
    let ti = pd >> 4;
    match *mt {
        CP_DATA => Ok(Cp::Data { ti, rpdu: lv(rest, "CP-User data")?.0 }),
        CP_ACK => Ok(Cp::Ack { ti }),
        CP_ERROR => Ok(Cp::Error { ti, cause: rest.first().copied() }),
        other => Err(SmsError::Reserved { field: "CP message type", value: other }),
    }
}
