//! nas: the mobile identity of 3GPP TS 24.008 10.5.1.4 and the uplink
//! MM, RR and GMM messages that carry it in clear (TS 24.008 9.2, 9.1,
//! 9.4): what a GSM capture reveals of the subscriber and the handset.
//!
//! Input: a layer-3 message (DTAP) or a mobile identity value. Output:
//! the identity with its kind. A TMSI is returned too but marked as not
//! an identifier of the device ([`IdentityKind::is_identifier`]).
//! Never: accept a digit that is not BCD, or read an LV past its end.

use super::SmsError;
use super::rp::lv;

/// Protocol discriminators (TS 24.007 11.2.3.1.1).
const PD_MM: u8 = 0x05;
const PD_RR: u8 = 0x06;
const PD_GMM: u8 = 0x08;
/// Type of identity (10.5.1.4, octet 3 bits 3-1).
const TYPE_IMSI: u8 = 1;
const TYPE_IMEI: u8 = 2;
const TYPE_IMEISV: u8 = 3;
const TYPE_TMSI: u8 = 4;
const ODD: u8 = 0x08;
/// A TMSI / P-TMSI is 4 octets after the type octet.
const TMSI_LEN: usize = 5;
/// Digits of each kind (TS 23.003: IMSI at most 15; IMEI 15; IMEISV 16).
const MAX_IMSI_DIGITS: usize = 15;
const IMEI_DIGITS: usize = 15;
const IMEISV_DIGITS: usize = 16;

/// What a mobile identity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    Imsi,
    Imei,
    Imeisv,
    /// Temporary identity the network assigned: not an identifier finding.
    Tmsi,
}

impl IdentityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Imsi => "imsi",
            IdentityKind::Imei => "imei",
            IdentityKind::Imeisv => "imeisv",
            IdentityKind::Tmsi => "tmsi",
        }
    }

    /// Does it identify the subscriber or the device for good?
    pub fn is_identifier(self) -> bool {
        self != IdentityKind::Tmsi
    }
}

/// A decoded mobile identity. `value` is the digits (IMSI, IMEI with its
/// spare or check digit as sent, IMEISV with the SVN) or 8 hex digits for
/// a TMSI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MobileIdentity {
    pub kind: IdentityKind,
    pub value: String,
}

impl MobileIdentity {
    /// The device's IMEI with its Luhn check digit, from an IMEI or an
    /// IMEISV: TAC and serial number (14 digits) plus the check digit. A
    /// mobile sends the 15th IMEI digit as a spare 0 (TS 23.003 6.2.1),
    /// so a check-digit validator needs this form.
    pub fn imei_with_check_digit(&self) -> Option<String> {
        if !matches!(self.kind, IdentityKind::Imei | IdentityKind::Imeisv) {
            return None;
        }
        let body = self.value.get(..IMEI_DIGITS - 1)?;
        let mut sum = 0u32;
        for (i, c) in body.bytes().enumerate() {
            let d = u32::from(c.checked_sub(b'0')?);
            // Every second digit from the left, starting with the second.
            let d = if i % 2 == 1 { d * 2 } else { d };
            sum += d / 10 + d % 10;
        }
        let check = (10 - sum % 10) % 10;
        Some(format!("{body}{check}"))
    }
}

/// The messages searched for an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L3Message {
    MmIdentityResponse,
    LocationUpdatingRequest,
    CmServiceRequest,
    CmReestablishmentRequest,
    ImsiDetachIndication,
    PagingResponse,
    GmmAttachRequest,
    GmmIdentityResponse,
}

impl L3Message {
    pub fn as_str(self) -> &'static str {
        match self {
            L3Message::MmIdentityResponse => "MM Identity Response",
            L3Message::LocationUpdatingRequest => "Location Updating Request",
            L3Message::CmServiceRequest => "CM Service Request",
            L3Message::CmReestablishmentRequest => "CM Re-establishment Request",
            L3Message::ImsiDetachIndication => "IMSI Detach Indication",
            L3Message::PagingResponse => "Paging Response",
            L3Message::GmmAttachRequest => "GMM Attach Request",
            L3Message::GmmIdentityResponse => "GMM Identity Response",
        }
    }
}

/// Decodes a mobile identity value (the V of its LV). `Ok(None)` for "no
/// identity" and the kinds that name no device (TMGI and reserved).
pub fn mobile_identity(v: &[u8]) -> Result<Option<MobileIdentity>, SmsError> {
    const FIELD: &str = "mobile identity";
    let (&first, rest) = v.split_first().ok_or(SmsError::Truncated(FIELD))?;
    let (kind, max) = match first & 0b111 {
        TYPE_IMSI => (IdentityKind::Imsi, MAX_IMSI_DIGITS),
        TYPE_IMEI => (IdentityKind::Imei, IMEI_DIGITS),
        TYPE_IMEISV => (IdentityKind::Imeisv, IMEISV_DIGITS),
        TYPE_TMSI => {
            let t = v.get(1..TMSI_LEN).ok_or(SmsError::Truncated(FIELD))?;
            return Ok(Some(MobileIdentity { kind: IdentityKind::Tmsi, value: hex::encode(t) }));
        }
        _ => return Ok(None),
    };
    // Digit 1 is in the high nibble of the type octet; then two a byte,
    // low nibble first; an even count ends with the 0xF filler.
    let odd = first & ODD != 0;
    let nibbles = std::iter::once(first >> 4).chain(rest.iter().flat_map(|b| [b & 0x0f, b >> 4]));
    let count = 1 + 2 * rest.len() - usize::from(!odd);
    if count > max {
        return Err(SmsError::TooLong { field: FIELD, len: count });
    }
    let mut value = String::with_capacity(count);
    for d in nibbles.take(count) {
        if d > 9 {
            return Err(SmsError::BadDigit(FIELD));
        }
        value.push(char::from(b'0' + d));
    }
    let exact = match kind {
        IdentityKind::Imei => count == IMEI_DIGITS,
        IdentityKind::Imeisv => count == IMEISV_DIGITS,
        _ => count >= 6,
    };
    if !exact {
        return Err(SmsError::Truncated(FIELD));
    }
    Ok(Some(MobileIdentity { kind, value }))
}

/// Finds the mobile identity in an uplink MM, RR or GMM message.
/// `Ok(None)` for other messages and for messages with no identity.
pub fn l3_identity(l3: &[u8]) -> Result<Option<(L3Message, MobileIdentity)>, SmsError> {
    let [pd, mt, body @ ..] = l3 else {
        return Err(SmsError::Truncated("L3 header"));
    };
    // Fixed octets before the mobile identity LV, and classmark 2 (an LV)
    // when the message has one there.
    let (msg, fixed, classmark2) = match (pd & 0x0f, mt) {
        // MM message types: bits 7-8 are the send sequence number.
        (PD_MM, mt) => match mt & 0x3f {
            0x19 => (L3Message::MmIdentityResponse, 0, false),
            // LU type + CKSN, LAI (5), classmark 1.
            0x08 => (L3Message::LocationUpdatingRequest, 7, false),
            0x24 => (L3Message::CmServiceRequest, 1, true),
            0x28 => (L3Message::CmReestablishmentRequest, 1, true),
            // Classmark 1.
            0x01 => (L3Message::ImsiDetachIndication, 1, false),
            _ => return Ok(None),
        },
        // CKSN + spare half octet, classmark 2.
        (PD_RR, 0x27) => (L3Message::PagingResponse, 1, true),
        (PD_GMM, 0x16) => (L3Message::GmmIdentityResponse, 0, false),
        (PD_GMM, 0x01) => {
            // MS network capability (LV), attach type + CKSN, DRX (2).
            let (_, after) = lv(body, "MS network capability")?;
            let rest = after.get(3..).ok_or(SmsError::Truncated("GMM Attach Request"))?;
            let (mi, _) = lv(rest, "mobile identity")?;
            return Ok(mobile_identity(mi)?.map(|id| (L3Message::GmmAttachRequest, id)));
        }
        _ => return Ok(None),
    };
    let mut rest = body.get(fixed..).ok_or(SmsError::Truncated(msg.as_str()))?;
    if classmark2 {
        rest = lv(rest, "mobile station classmark 2")?.1;
    }
    let (mi, _) = lv(rest, "mobile identity")?;
    Ok(mobile_identity(mi)?.map(|id| (msg, id)))
}
