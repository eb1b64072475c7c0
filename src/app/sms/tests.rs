//! Unit tests on byte vectors; the origin of each is noted. Vectors
//! computed by hand or with a separate Python packer are marked so.

use super::build;
use super::gsmtap::{self, Event, Gsmtap};
use super::nas::{self, IdentityKind, L3Message};
use super::rp::{self, Cp, Rp};
use super::tpdu::{self, gsm7_to_string, unpack_septets};
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector is hex")
}

/// The classic SMS-SUBMIT "hellohello" to +46708251358, as an AT+CMGS PDU
/// (first octet 00: no SMSC address). Source: the widely reproduced
/// dreamfabric.com "SMS messages and the PDU format" tutorial.
const HELLOHELLO_PDU: &str = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37";

/// The SMS-DELIVER "How are you?" from +31641600986, with its SMSC
/// prefix (07 91 1326040000F0). Source: the same dreamfabric tutorial.
const HOW_ARE_YOU_PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

/// Frame 90 of gtp-iphone.pcap (Arkime test corpus): the SIP MESSAGE body
/// (application/vnd.3gpp.sms), extracted with `tshark -x`. Wireshark
/// decodes it as RP-DATA (MS to Network), RP-Destination "7",
/// SMS-SUBMIT to 122, text "test".
const GTP_IPHONE_FRAME_90: &str = "0002000291f70d01000381 21f2000004f4f29c0e";

fn frame_90() -> Vec<u8> {
    unhex(&GTP_IPHONE_FRAME_90.replace(' ', ""))
}

#[test]
fn hellohello_submit() {
    let pdu = unhex(HELLOHELLO_PDU);
    // The leading 00 is the (empty) SMSC address of the AT PDU format.
    let t = tpdu::decode(&pdu[1..], true).unwrap();
    assert_eq!(t.kind, SmsKind::Submit);
    assert_eq!(t.address.as_deref(), Some("+46708251358"));
    assert_eq!(t.text, "hellohello");
    assert_eq!(t.alphabet, Alphabet::Gsm7);
    assert_eq!(t.concat, None);
    assert!(t.notes.is_empty(), "{:?}", t.notes);
    // The same user data from the encoder: the builder matches the vector.
    let septets = build::gsm7_septets("hellohello").unwrap();
    assert_eq!(build::pack_septets(&septets, 0), pdu[pdu.len() - 9..]);
    // Read from the network side, MTI 01 is a SUBMIT-REPORT.
    assert_eq!(tpdu::decode(&pdu[1..], false), Err(SmsError::NoUserMessage("SMS-SUBMIT-REPORT")));
}

#[test]
fn how_are_you_deliver() {
    let pdu = unhex(HOW_ARE_YOU_PDU);
    let t = tpdu::decode(&pdu[8..], false).unwrap();
    assert_eq!(t.kind, SmsKind::Deliver);
    assert_eq!(t.address.as_deref(), Some("+31641600986"));
    assert_eq!(t.text, "How are you?");
    // From the mobile, MTI 00 is a DELIVER-REPORT.
    assert_eq!(tpdu::decode(&pdu[8..], true), Err(SmsError::NoUserMessage("SMS-DELIVER-REPORT")));
}

#[test]
fn gtp_iphone_frame_90_rp_data() {
    let rpdu = frame_90();
    let Rp::Data { from_ms, reference, originator, destination, tpdu } = rp::decode(&rpdu).unwrap() else {
        panic!("RP-DATA expected")
    };
    assert!(from_ms);
    assert_eq!((reference, originator, destination.as_deref()), (2, None, Some("+7")));
    assert_eq!(tpdu.len(), 13);
    let part = from_rpdu(&rpdu, true).unwrap().unwrap();
    assert_eq!(part.concat, None);
    let s = part.sms;
    assert_eq!((s.kind, s.uplink), (SmsKind::Submit, true));
    assert_eq!(s.address.as_deref(), Some("122"));
    assert_eq!(s.rp_destination.as_deref(), Some("+7"));
    assert_eq!(s.text, "test");
    assert_eq!(s.parts, 1);
}

#[test]
fn rp_data_ms_wraps_a_submit() {
    let tp = build::submit("+4915112345678", "TN:IMEI1,356938035643809", Alphabet::Gsm7, None).unwrap();
    let rpdu = build::rp_data_ms(7, "+491710760000", &tp);
    let s = from_rpdu(&rpdu, true).unwrap().unwrap().sms;
    assert_eq!(s.address.as_deref(), Some("+4915112345678"));
    assert_eq!(s.rp_destination.as_deref(), Some("+491710760000"));
    assert_eq!(s.text, "TN:IMEI1,356938035643809");
    // RP-ACK / RP-ERROR are recognised and carry nothing.
    assert_eq!(rp::decode(&[0x02, 7]), Ok(Rp::Ack { from_ms: true, reference: 7 }));
    assert_eq!(rp::decode(&[0x05, 7, 1, 0x2a]), Ok(Rp::Error { from_ms: false, reference: 7, cause: Some(42) }));
    assert_eq!(from_rpdu(&[0x03, 7], false), Ok(None));
    assert_eq!(rp::decode(&[0x07, 0]), Err(SmsError::Reserved { field: "RP-MTI", value: 7 }));
}

#[test]
fn deliver_in_the_uplink_is_flagged() {
    let tp = build::deliver("+3312345678", "hi", Alphabet::Gsm7).unwrap();
    let rpdu = build::rp_data_n(1, "+33609001390", &tp);
    let s = from_rpdu(&rpdu, true).unwrap().unwrap().sms;
    assert_eq!((s.kind, s.uplink), (SmsKind::Deliver, true));
    assert_eq!(s.address.as_deref(), Some("+3312345678"));
    assert!(s.notes.iter().any(|n| n.contains("uplink")), "{:?}", s.notes);
    let s = from_rpdu(&rpdu, false).unwrap().unwrap().sms;
    assert!(s.notes.is_empty());
}

/// UCS-2: "Привет " (U+041F...) and U+1F600 as the surrogate pair
/// D83D DE00 (TS 23.038 6.2.3 via UTF-16, RFC 2781), with a number and an
/// e-mail address; hand-encoded user data.
#[test]
fn ucs2_with_surrogates() {
    let ud = "041F04400438043204350442002000310032003300200061004000620063002E00640065D83DDE00";
    let udl = ud.len() / 2;
    let pdu = unhex(&format!("0100038121F20008{udl:02X}{ud}"));
    let t = tpdu::decode(&pdu, true).unwrap();
    assert_eq!(t.alphabet, Alphabet::Ucs2);
    assert_eq!(t.text, "Привет 123 a@bc.de😀");
    // A lone surrogate becomes U+FFFD; an odd octet is noted.
    let pdu = unhex("0100038121F2000803D83D00");
    let t = tpdu::decode(&pdu, true).unwrap();
    assert_eq!(t.text, "\u{fffd}");
    assert_eq!(t.notes.len(), 1);
}

/// Every extension-table character (TS 23.038 6.2.1.1); packed vector
/// from a separate Python packer.
#[test]
fn gsm7_extension_table() {
    let text = "€[]{}^~\\|";
    let septets = build::gsm7_septets(text).unwrap();
    assert_eq!(
        septets,
        [0x1b, 0x65, 0x1b, 0x3c, 0x1b, 0x3e, 0x1b, 0x28, 0x1b, 0x29, 0x1b, 0x14, 0x1b, 0x3d, 0x1b, 0x2f, 0x1b, 0x40]
    );
    let packed = unhex("9bf286b7f16d509bd486b2e96d5e1b20");
    assert_eq!(build::pack_septets(&septets, 0), packed);
    let pdu = [unhex("0100038121F2000012"), packed].concat();
    assert_eq!(tpdu::decode(&pdu, true).unwrap().text, text);
    // The default table's non-ASCII corners, and ESC + a code with no
    // extension character shows the default character.
    assert_eq!(gsm7_to_string(&[0x00, 0x01, 0x10, 0x1c, 0x24, 0x40, 0x5f, 0x60, 0x7f]), "@£ΔÆ¤¡§¿à");
    assert_eq!(gsm7_to_string(&[0x1b, 0x41, 0x1b]), "A");
    assert_eq!(unpack_septets(&[0xff], 0, 5), [0x7f]);
}

/// Alphanumeric TP-OA "Google" (TON 5): 11 semi-octets, packed by the
/// Python packer.
#[test]
fn alphanumeric_originator() {
    let pdu = unhex("040BD0C7F7FBCC2E030000712011214365000 2E834".replace(' ', "").as_str());
    let t = tpdu::decode(&pdu, false).unwrap();
    assert_eq!(t.address.as_deref(), Some("Google"));
    assert_eq!(t.text, "hi");
}

/// Validity period formats (TS 23.040 9.2.3.3): none, relative (1 octet),
/// enhanced and absolute (7); the text is found after each.
#[test]
fn validity_period_skipped() {
    for (vpf, vp) in [(0x00, ""), (0x10, "AA"), (0x08, "01000000000000"), (0x18, "71201121436500")] {
        let pdu = unhex(&format!("{:02X}00038121F20000{vp}04F4F29C0E", 0x01 | vpf));
        assert_eq!(tpdu::decode(&pdu, true).unwrap().text, "test", "VPF {vpf:#x}");
    }
}

/// Data coding groups (TS 23.038 4): message waiting and class groups.
#[test]
fn data_coding_groups() {
    let ascii8 = |dcs: u8| unhex(&format!("0100038121F200{dcs:02X}024869"));
    assert_eq!(tpdu::decode(&ascii8(0x04), true).unwrap().text, "Hi");
    assert_eq!(tpdu::decode(&ascii8(0xF4), true).unwrap().alphabet, Alphabet::EightBit);
    assert_eq!(tpdu::decode(&ascii8(0xE0), true).unwrap().text, "\u{4869}");
    for dcs in [0x00, 0xC0, 0xD8, 0xF0, 0x10, 0x4C] {
        let pdu = unhex(&format!("0100038121F200{dcs:02X}04F4F29C0E"));
        let t = tpdu::decode(&pdu, true).unwrap();
        assert_eq!((t.alphabet, t.text.as_str()), (Alphabet::Gsm7, "test"), "DCS {dcs:#x}");
    }
    // 8-bit data that is not UTF-8 stays visible byte by byte.
    assert_eq!(tpdu::decode(&unhex("0100038121F20004024869FF"), true).unwrap().text, "Hi");
    assert_eq!(tpdu::decode(&unhex("0100038121F2000403FF4869"), true).unwrap().text, "\u{ff}Hi");
}

/// A concatenated part with an 8-bit reference: UDH 05 00 03 CC 02 01 and
/// "hello" after one fill bit (TS 23.040 9.2.3.24; packed by Python).
#[test]
fn udh_fill_bits() {
    let pdu = unhex("4100038121F200000C050003CC0201D06536FB0D");
    let t = tpdu::decode(&pdu, true).unwrap();
    assert_eq!(t.text, "hello");
    assert_eq!(t.concat, Some(Concat { reference: 0xcc, total: 2, seq: 1 }));
    // Part 0 or past the total voids the IE.
    let pdu = unhex("4100038121F200000C050003CC0203D06536FB0D");
    let t = tpdu::decode(&pdu, true).unwrap();
    assert_eq!(t.concat, None);
    assert!(t.notes[0].contains("ignored"));
}

#[test]
fn concatenated_three_parts_both_references() {
    let text: String = "TN:IMEI1,356938035643809,IMEI2,356938035643817,".repeat(9);
    for (alphabet, sixteen) in
        [(Alphabet::Gsm7, false), (Alphabet::Gsm7, true), (Alphabet::Ucs2, true), (Alphabet::EightBit, false)]
    {
        let text = match alphabet {
            Alphabet::Gsm7 => text.clone(),
            Alphabet::Ucs2 => text[..150].to_string(),
            Alphabet::EightBit => text[..300].to_string(),
        };
        let parts = build::submit_parts("+15551234567", &text, alphabet, 0x1234, sixteen).unwrap();
        assert_eq!(parts.len(), 3, "{alphabet:?}");
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        // Out of order, with a repeat.
        for i in [2, 0, 0, 1] {
            r.push(tpdu::decode(&parts[i], true).unwrap().into_part(true, None), &mut out);
        }
        assert_eq!(out.len(), 1, "{alphabet:?}");
        let s = &out[0];
        assert_eq!((s.text.as_str(), s.parts, s.alphabet), (text.as_str(), 3, alphabet));
        assert!(s.notes.is_empty(), "{:?}", s.notes);
        let want_ref = if sixteen { 0x1234 } else { 0x34 };
        assert_eq!(tpdu::decode(&parts[1], true).unwrap().concat.unwrap().reference, want_ref);
        assert_eq!((r.stats().completed, r.stats().duplicates, r.held()), (1, 1, 0));
    }
}

#[test]
fn incomplete_set_flushed_as_partial() {
    let parts = build::submit_parts("122", &"x".repeat(400), Alphabet::Gsm7, 9, false).unwrap();
    let mut r = Reassembler::new();
    let mut out = Vec::new();
    for i in [0, 2] {
        r.push(tpdu::decode(&parts[i], true).unwrap().into_part(true, None), &mut out);
    }
    // A single message passes straight through.
    r.push(from_rpdu(&frame_90(), true).unwrap().unwrap(), &mut out);
    assert_eq!(out.len(), 1);
    r.finish(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].parts, 2);
    assert_eq!(out[1].notes, ["part 2 of 3 missing"]);
    assert_eq!(out[1].text.len(), 153 + 94);
    assert_eq!(r.stats().partial, 1);
}

#[test]
fn held_parts_are_bounded() {
    let mut r = Reassembler::new();
    let mut out = Vec::new();
    let n = MAX_PARTS_HELD + 10;
    for i in 0..n {
        let reference = u16::try_from(i).unwrap();
        let tp =
            build::submit("122", "a", Alphabet::Gsm7, Some((Concat { reference, total: 2, seq: 1 }, true))).unwrap();
        r.push(tpdu::decode(&tp, true).unwrap().into_part(true, None), &mut out);
        assert!(r.held() <= MAX_PARTS_HELD);
    }
    assert_eq!(r.stats().limit_evictions, 10);
    // The oldest went first and was emitted, not lost.
    assert_eq!(out.len(), 10);
    assert!(out[0].notes.iter().any(|n| n.contains("limit")));
    r.finish(&mut out);
    assert_eq!(out.len(), n);
}

/// MM Identity Response with IMSI 001010123456789 (TS 24.008 9.2.11,
/// 10.5.1.4; hand-encoded: type 1, odd, digits low nibble first).
const IDENTITY_RESPONSE_IMSI: &str = "0519080910101032547698";

#[test]
fn mobile_identities() {
    let l3 = unhex(IDENTITY_RESPONSE_IMSI);
    let (msg, id) = nas::l3_identity(&l3).unwrap().unwrap();
    assert_eq!(
        (msg, id.kind, id.value.as_str()),
        (L3Message::MmIdentityResponse, IdentityKind::Imsi, "001010123456789")
    );
    // IMEISV 3569380356438091 (16 digits, even: 0xF filler), GMM Identity
    // Response (9.4.14).
    let (msg, id) = nas::l3_identity(&unhex("0816093365390853468390F1")).unwrap().unwrap();
    assert_eq!(
        (msg, id.kind, id.value.as_str()),
        (L3Message::GmmIdentityResponse, IdentityKind::Imeisv, "3569380356438091")
    );
    // Location Updating Request with a TMSI (9.2.15): LU type, LAI, CM1.
    let lu = unhex("050870 62f2200001 57 05f4deadbeef".replace(' ', "").as_str());
    let (msg, id) = nas::l3_identity(&lu).unwrap().unwrap();
    assert_eq!((msg, id.kind, id.value.as_str()), (L3Message::LocationUpdatingRequest, IdentityKind::Tmsi, "deadbeef"));
    assert!(!id.kind.is_identifier());
    // CM Service Request with IMEI 356938035643809 (9.2.9).
    let cm = unhex("05240103 5719a2 08 3a65390853468390".replace(' ', "").as_str());
    let (msg, id) = nas::l3_identity(&cm).unwrap().unwrap();
    assert_eq!((msg, id.kind, id.value.as_str()), (L3Message::CmServiceRequest, IdentityKind::Imei, "356938035643809"));
    // 356938035643809 is a valid IMEI; sent with a spare 0 it is restored.
    let spare = nas::MobileIdentity { kind: IdentityKind::Imei, value: "356938035643800".into() };
    assert_eq!(spare.imei_with_check_digit().as_deref(), Some("356938035643809"));
    let sv = nas::MobileIdentity { kind: IdentityKind::Imeisv, value: "3569380356438091".into() };
    assert_eq!(sv.imei_with_check_digit().as_deref(), Some("356938035643809"));
    // Paging Response (RR, 9.1.25) and GMM Attach Request (9.4.1).
    let pr = unhex("0627030357 19a2 08 0910101032547698".replace(' ', "").as_str());
    assert_eq!(nas::l3_identity(&pr).unwrap().unwrap().0, L3Message::PagingResponse);
    let at = unhex("0801 02e5e0 11 0000 08 0910101032547698".replace(' ', "").as_str());
    let (msg, id) = nas::l3_identity(&at).unwrap().unwrap();
    assert_eq!((msg, id.value.as_str()), (L3Message::GmmAttachRequest, "001010123456789"));
    // A non-digit nibble is an error; a message without identity is None.
    assert_eq!(nas::mobile_identity(&[0x09, 0x1a]), Err(SmsError::BadDigit("mobile identity")));
    assert_eq!(nas::l3_identity(&[0x05, 0x18]), Ok(None));
}

/// Nine GSMTAP datagrams: CP-DATA (RP-DATA (SMS-SUBMIT)) segmented into
/// three LAPDm I frames on SDCCH/8 SAPI 3, uplink; one repeated.
#[test]
fn gsmtap_segmented_cp_data() {
    let text = "TN:IMEI1,356938035643809";
    let tp = build::submit("+4915112345678", text, Alphabet::Gsm7, None).unwrap();
    let cp = build::cp_data(0, &build::rp_data_ms(3, "+491710760000", &tp));
    assert!(cp.len() > 40 && cp.len() <= 60, "{}", cp.len());
    let frames = build::lapdm_i_frames(3, 0, &cp, 20);
    assert_eq!(frames.len(), 3);
    let mut g = Gsmtap::new();
    let mut out = Vec::new();
    let sdcch8 = 0x08;
    for (i, f) in frames.iter().enumerate() {
        g.datagram(&build::gsmtap_um(true, sdcch8, 100 + i as u32, f), &mut out);
        if i == 0 {
            // A retransmission with the same N(S) and bytes is dropped.
            g.datagram(&build::gsmtap_um(true, sdcch8, 101, f), &mut out);
        }
    }
    assert_eq!(out.len(), 1, "{:?} {:?}", out, g.stats());
    let Event::Sms(s) = &out[0] else { panic!("SMS expected") };
    assert_eq!((s.uplink, s.text.as_str(), s.address.as_deref()), (true, text, Some("+4915112345678")));
    let st = g.stats();
    assert_eq!((st.lapdm_i_frames, st.lapdm_duplicates, st.malformed), (4, 1, 0));
    // The same in the downlink: uplink false; on the SACCH (during a call)
    // after its 2-octet L1 header.
    let mut out = Vec::new();
    let sacch_frames = build::lapdm_i_frames(3, 0, &cp, 18);
    assert_eq!(sacch_frames.len(), 3);
    for (f, s) in frames.iter().zip(&sacch_frames) {
        g.datagram(&build::gsmtap_um(false, sdcch8, 1, f), &mut out);
        let sacch = [&[0x05, 0x01][..], &s[..21]].concat();
        g.datagram(&build::gsmtap_um(true, 0x80 | 0x09, 1, &sacch), &mut out);
    }
    let ups: Vec<bool> = out.iter().map(|e| matches!(e, Event::Sms(s) if s.uplink)).collect();
    assert_eq!(ups, [false, true]);
}

#[test]
fn gsmtap_identity_and_other_channels() {
    let mut g = Gsmtap::new();
    let mut out = Vec::new();
    // MM Identity Response in one I frame on SDCCH/4, SAPI 0.
    let frame = &build::lapdm_i_frames(0, 2, &unhex(IDENTITY_RESPONSE_IMSI), 20)[0];
    g.datagram(&build::gsmtap_um(true, 0x07, 5, frame), &mut out);
    assert_eq!(
        out,
        [Event::Identity {
            kind: IdentityKind::Imsi,
            value: "001010123456789".into(),
            uplink: true,
            message: L3Message::MmIdentityResponse
        }]
    );
    // BCCH, an Abis datagram, a version-1 header and a short one: counted.
    g.datagram(&build::gsmtap_um(false, 0x01, 5, frame), &mut out);
    let mut abis = build::gsmtap_um(false, 0x01, 5, frame);
    abis[2] = 0x02;
    g.datagram(&abis, &mut out);
    abis[0] = 0x01;
    g.datagram(&abis, &mut out);
    g.datagram(&abis[..10], &mut out);
    // UI frame with a CP-ACK; SABM (control frame).
    g.datagram(&build::gsmtap_um(true, 0x07, 6, &[0x0d, 0x03, 0x09, 0x09, 0x04]), &mut out);
    g.datagram(&build::gsmtap_um(true, 0x07, 6, &[0x0d, 0x3f, 0x01]), &mut out);
    // Downlink SACCH system information 5 (format B4, pseudo length 0x49,
    // TS 44.018 9.1.37): not an SMS although 0x49 & 0x0f is 9.
    let si5 = unhex("0000030349061d8f00000000000000000000000000000000");
    g.datagram(&build::gsmtap_um(false, 0x88, 7, &si5), &mut out);
    let st = g.stats();
    assert_eq!((st.l3_not_decoded, st.lapdm_ui_frames), (1, 2));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (st.datagrams, st.um, st.other_channels, st.other_types, st.malformed, st.sms_control, st.lapdm_control_frames),
        (8, 5, 1, 1, 2, 1, 1)
    );
}

#[test]
fn gsmtap_link_buffers_are_bounded() {
    let mut g = Gsmtap::new();
    let mut out = Vec::new();
    // A frame that never ends (M set), N(S) cycling so no repeat matches.
    for i in 0..200u32 {
        let mut f = vec![0x0d, ((i % 8) as u8) << 1, (20 << 2) | 0x03];
        f.extend((0..20).map(|j| (i + j) as u8));
        g.datagram(&build::gsmtap_um(true, 0x08, i, &f), &mut out);
    }
    assert_eq!(g.stats().reassembly_limit_hits, 1);
    // More links than MAX_LINKS: the oldest pending one is dropped.
    for ts in 0..=gsmtap::MAX_LINKS {
        let f = [0x0d, 0x00, (1 << 2) | 0x03, 0x09];
        let mut d = build::gsmtap_um(true, 0x08, 0, &f);
        d[14] = (ts % 256) as u8;
        d[3] = 2 + (ts / 256) as u8;
        g.datagram(&d, &mut out);
    }
    // The first link (already discarding, nothing held) went first, then
    // the oldest with a pending segment.
    assert_eq!(g.stats().reassembly_limit_hits, 2);
    g.finish(&mut out);
    assert!(out.is_empty());
    assert_eq!(g.stats().lapdm_incomplete, gsmtap::MAX_LINKS as u64);
}

#[test]
fn cp_layer() {
    let cp = build::cp_data(0x8, &frame_90());
    assert_eq!(rp::decode_cp(&cp), Ok(Cp::Data { ti: 8, rpdu: &frame_90() }));
    assert_eq!(rp::decode_cp(&[0x89, 0x04]), Ok(Cp::Ack { ti: 8 }));
    assert_eq!(rp::decode_cp(&[0x09, 0x10, 0x51]), Ok(Cp::Error { ti: 0, cause: Some(0x51) }));
    assert!(rp::decode_cp(&[0x05, 0x01, 0x00]).is_err());
}

/// Every vector cut at every length, in every decoder: a result or an
/// error, never a panic (tests run with overflow checks).
#[test]
fn truncation_never_panics() {
    let tp_parts = build::submit_parts("+15551234567", &"€x".repeat(100), Alphabet::Gsm7, 1, true).unwrap();
    let cp = build::cp_data(0, &build::rp_data_ms(3, "+491710760000", &tp_parts[0]));
    let mut vectors = vec![
        unhex(HELLOHELLO_PDU),
        unhex(HOW_ARE_YOU_PDU),
        frame_90(),
        unhex(IDENTITY_RESPONSE_IMSI),
        unhex("4100038121F200000C050003CC0201D06536FB0D"),
        cp.clone(),
    ];
    vectors.extend(tp_parts);
    for f in build::lapdm_i_frames(3, 0, &cp, 20) {
        vectors.push(build::gsmtap_um(true, 0x08, 0, &f));
        vectors.push(build::gsmtap_um(true, 0x88, 0, &f));
    }
    for v in &vectors {
        for n in 0..=v.len() {
            let cut = &v[..n];
            for skip in 0..cut.len().min(9) {
                let b = &cut[skip..];
                let _ = tpdu::decode(b, true);
                let _ = tpdu::decode(b, false);
                let _ = rp::decode(b);
                let _ = rp::decode_cp(b);
                let _ = nas::l3_identity(b);
                let _ = nas::mobile_identity(b);
                let _ = from_rpdu(b, true);
            }
            let mut g = Gsmtap::new();
            let mut out = Vec::new();
            g.datagram(cut, &mut out);
            g.finish(&mut out);
            fuzz(cut);
        }
    }
}

/// Every byte value in every position of a TPDU and a GSMTAP frame.
#[test]
fn mutation_never_panics() {
    let tp = build::submit("+15551234567", "TN:IMEI1,356938035643809", Alphabet::Gsm7, None).unwrap();
    let cp = build::cp_data(0, &build::rp_data_ms(3, "+491710760000", &tp));
    let datagram = build::gsmtap_um(true, 0x08, 0, &build::lapdm_i_frames(3, 0, &cp, 60)[0]);
    for v in [tp, cp, datagram] {
        for i in 0..v.len() {
            for b in 0..=255u8 {
                let mut m = v.clone();
                m[i] = b;
                fuzz(&[[0, 1].as_slice(), &m].concat());
                let _ = tpdu::decode(&m, true);
            }
        }
    }
}

/// The fuzz seeds (fuzz/corpus/sms) replayed: no panic, and the GSMTAP
/// ones still decode to what they were made from.
#[test]
fn fuzz_seeds_replay() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/sms");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).expect("fuzz/corpus/sms exists") {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        fuzz(&data);
        n += 1;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("gsmtap-") {
            let mut g = Gsmtap::new();
            let mut out = Vec::new();
            let mut tail = &data[1..];
            while let Some((&len, t)) = tail.split_first() {
                let (d, rest) = t.split_at(usize::from(len).min(t.len()));
                g.datagram(d, &mut out);
                tail = rest;
            }
            assert_eq!(out.len(), 1, "{name}: {out:?}");
        }
    }
    assert!(n >= 6);
}
