//! Telephony channels end to end (issue 12): SIP identities of an IMS
//! phone in every header form and transport, the network's replies
//! (never findings), SMS over IMS and over GSMTAP (segmented LAPDm,
//! concatenated parts), mobile identities in clear in MM messages, the
//! Wiko fixture's SMS channel and the iPhone capture of corpus-extra.
//! The captures come from `support::telephony`, written from the 3GPP
//! and IETF specifications, not from teleaudit's decoders.
//!
//! These describe the target behaviour and fail until the SIP and SMS
//! dissectors are wired in; each is ignored until then.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use serde_json::Value;

use super::support::telephony::{self as tel, Alphabet, Carrier, Concat, Form, IdType, Ident, Phone};
use super::support::{self, Link, Net, wiko};
use super::{FIXTURE, jsonl, of_type, run, tmpdir, write};

const IMSI: &str = "310410123456789";
const IMEI: &str = "354427063233479";
const MSISDN_DIGITS: &str = "12015550123";

/// Scans `net` written as a pcap; all the JSON lines, values shown.
fn scan(name: &str, net: &Net) -> (Option<i32>, Vec<Value>) {
    let dir = tmpdir(&format!("telephony-{name}"));
    let p = write(&dir, "t.pcap", &support::pcap(net, Link::Ethernet, false, false));
    let out = run(&["scan", "--format", "jsonl", "--show-values", p.to_str().unwrap()]);
    (out.status.code(), jsonl(&out))
}

fn findings(lines: &[Value]) -> Vec<&Value> {
    of_type(lines, "finding")
}

fn digits(v: &Value) -> String {
    v.as_str().unwrap_or("").chars().filter(char::is_ascii_digit).collect()
}

fn frame(f: &Value) -> usize {
    f["frame"].as_u64().expect("frame") as usize
}

/// One exchange of the SIP capture: the phone, its frames, and which of
/// them carry the phone's requests.
struct Case {
    what: &'static str,
    phone: Phone,
    frames: RangeInclusive<usize>,
    requests: Vec<usize>,
}

/// Frames (from 1) in `range` whose bytes contain `needle`.
fn frames_with(net: &Net, range: &RangeInclusive<usize>, needle: &[u8]) -> Vec<usize> {
    range.clone().filter(|&i| net.packets[i - 1].1.windows(needle.len()).any(|w| w == needle)).collect()
}

/// Adds one exchange built by `f` and records its frames; request frames
/// are those holding a request line of one of `methods`.
fn case(
    net: &mut Net,
    cases: &mut Vec<Case>,
    what: &'static str,
    phone: Phone,
    methods: &[&str],
    f: impl FnOnce(&mut Net, &Phone),
) {
    let first = net.packets.len() + 1;
    f(net, &phone);
    let frames = first..=net.packets.len();
    let mut requests: Vec<usize> =
        methods.iter().flat_map(|m| frames_with(net, &frames, format!("{m} ").as_bytes())).collect();
    requests.sort_unstable();
    requests.dedup();
    assert!(!requests.is_empty(), "{what}: no request frame");
    cases.push(Case { what, phone, frames, requests });
}

/// REGISTER (challenged, then accepted), INVITE and MESSAGE from a phone,
/// in full and compact header forms, with each identity form and access
/// type, over UDP and TCP in plain IPv4 and inside GTP-U with IPv6.
fn sip_capture() -> (Net, Vec<Case>) {
    let [eutran, utran, geran, nr] = tel::accesses();
    let mut n = Net::default();
    let mut cases = Vec::new();
    let t = 1_700_000_000;

    let p = tel::test_phone("10.30.0.7:5060", "10.30.0.1:5060", eutran);
    case(&mut n, &mut cases, "UDP, full names, sip:+E164;user=phone", p, &["REGISTER"], |n, p| {
        let r1 = tel::register(p, Form::Full, Ident::SipPhone, false, 1);
        let r2 = tel::register(p, Form::Full, Ident::SipPhone, false, 2);
        let (c401, c200) = (tel::response(p, Form::Full, &r1, 401), tel::response(p, Form::Full, &r2, 200));
        tel::sip_udp(n, t, p, Carrier::Plain, &[(true, r1), (false, c401), (true, r2), (false, c200)]);
    });

    let p = tel::test_phone("10.30.0.8:5060", "10.30.0.1:5060", utran);
    case(&mut n, &mut cases, "TCP, compact names, tel:+E164", p, &["REGISTER"], |n, p| {
        let r1 = tel::register(p, Form::Compact, Ident::Tel, true, 1);
        let r2 = tel::register(p, Form::Compact, Ident::Tel, true, 2);
        let (c401, c200) = (tel::response(p, Form::Compact, &r1, 401), tel::response(p, Form::Compact, &r2, 200));
        tel::sip_tcp(n, t + 10, p, Carrier::Plain, &[(true, r1), (false, c401), (true, r2), (false, c200)]);
    });

    let p = tel::test_phone("[2001:db8:310:410::7]:5060", "[2001:db8:310::1]:5060", geran);
    case(&mut n, &mut cases, "GTP-U IPv6 UDP, compact INVITE with SDP", p, &["INVITE"], |n, p| {
        let inv = tel::invite(p, Form::Compact, Ident::SipPhone, false, "+12015550199");
        let replies: Vec<Vec<u8>> = [100, 180, 200].iter().map(|&c| tel::response(p, Form::Compact, &inv, c)).collect();
        let mut msgs = vec![(true, inv)];
        msgs.extend(replies.into_iter().map(|r| (false, r)));
        tel::sip_udp(n, t + 20, p, Carrier::GtpU, &msgs);
    });

    let p = tel::test_phone("[2001:db8:310:410::8]:5060", "[2001:db8:310::1]:5060", nr);
    case(&mut n, &mut cases, "GTP-U IPv6 TCP, REGISTER, sip:IMSI@realm", p, &["REGISTER"], |n, p| {
        let r1 = tel::register(p, Form::Full, Ident::SipImsi, true, 1);
        let c401 = tel::response(p, Form::Full, &r1, 401);
        tel::sip_tcp(n, t + 30, p, Carrier::GtpU, &[(true, r1), (false, c401)]);
    });
    (n, cases)
}

fn in_frame<'a>(f: &'a [&'a Value], frame_no: usize, kind: &str) -> Vec<&'a Value> {
    f.iter().copied().filter(|x| frame(x) == frame_no && x["kind"] == kind).collect()
}

/// Scans the SIP capture and checks that in every request frame of the
/// cases `pick` keeps, some finding of `kind` satisfies `ok`; gives the
/// cases and the JSON lines for further checks.
fn every_request_has(
    name: &str,
    pick: impl Fn(&Case) -> bool,
    kind: &str,
    ok: impl Fn(&Case, &Value) -> bool,
) -> (Vec<Case>, Vec<Value>) {
    let (net, cases) = sip_capture();
    let (_, lines) = scan(name, &net);
    let f = findings(&lines);
    for c in cases.iter().filter(|c| pick(c)) {
        for &r in &c.requests {
            let m = in_frame(&f, r, kind);
            assert!(m.iter().any(|x| ok(c, x)), "{}: frame {r}: no {kind}: {f:?}", c.what);
        }
    }
    (cases, lines)
}

#[test]

fn sip_phone_number_is_msisdn_in_every_form() {
    // The exchange whose From/To are the IMSI URI has no number in it.
    every_request_has(
        "msisdn",
        |c| !c.what.contains("sip:IMSI"),
        "msisdn",
        |_, x| digits(&x["value"]) == MSISDN_DIGITS,
    );
}

#[test]

fn sip_imsi_from_user_part_and_authorization_username() {
    // The IMSI is in the Authorization username of every REGISTER (one
    // finding a message: under the first header that carries it).
    let from_authorization = |x: &Value| {
        x["field"].as_str().is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            ["authorization", "from", "to", "request-uri", "contact"].iter().any(|h| s.starts_with(h))
        })
    };
    let (cases, lines) = every_request_has(
        "imsi",
        |c| !c.what.contains("INVITE"),
        "imsi",
        |_, x| x["value"] == IMSI && from_authorization(x),
    );
    let f = findings(&lines);
    // From/To carry `sip:IMSI@ims.mnc410.mcc310.3gppnetwork.org` there.
    let imsi_uri = cases.iter().find(|c| c.what.contains("sip:IMSI")).unwrap();
    let m = in_frame(&f, imsi_uri.requests[0], "imsi");
    assert!(
        m.iter().any(|x| x["field"].as_str().is_some_and(|s| s.starts_with("From") || s.starts_with("To"))),
        "{m:?}"
    );
    // A 15-digit IMSI that passes Luhn is still not an IMEI.
    assert!(f.iter().all(|x| !(x["kind"] == "imei" && digits(&x["value"]) == IMSI)));
}

#[test]

fn sip_imei_from_sip_instance() {
    every_request_has("imei", |_| true, "imei", |_, x| digits(&x["value"]) == IMEI);
}

#[test]

fn sip_cell_id_from_p_access_network_info() {
    every_request_has(
        "cell",
        |_| true,
        "cell_location",
        |c, x| {
            let cell = c.phone.access.cell().to_ascii_lowercase();
            x["value"].as_str().is_some_and(|v| v.to_ascii_lowercase().contains(&cell))
        },
    );
}

/// No SIP URI is an e-mail address, and nothing comes from the network.
#[test]

fn sip_uris_are_not_email_and_replies_give_nothing() {
    let (net, cases) = sip_capture();
    let (code, lines) = scan("no-email", &net);
    assert_eq!(code, Some(1));
    let f = findings(&lines);
    assert!(!f.is_empty());
    assert!(f.iter().all(|x| x["kind"] != "email"), "{f:?}");
    for x in &f {
        let c = cases.iter().find(|c| c.frames.contains(&frame(x))).expect("a case");
        assert!(c.requests.contains(&frame(x)), "{}: finding from a reply frame: {x}", c.what);
        assert_eq!(x["src"], c.phone.addr.to_string(), "{}: {x}", c.what);
    }
}

/// Captures with only the network's replies (100 Trying, 401 with the
/// IMSI, 200 OK with the number and the IMEI, 202 Accepted): nothing.
#[test]

fn sip_replies_alone_give_no_findings() {
    let mut n = Net::default();
    let [eutran, utran, ..] = tel::accesses();
    let p = tel::test_phone("10.30.0.7:5060", "10.30.0.1:5060", eutran);
    let reg = tel::register(&p, Form::Full, Ident::SipPhone, false, 1);
    let inv = tel::invite(&p, Form::Full, Ident::Tel, false, "+12015550199");
    let rp = tel::rp_data_ms_to_n(1, "+12015550100", &tel::sms_submit("122", "test", Alphabet::Gsm7)[0]);
    let msg = tel::message(&p, Form::Full, Ident::Tel, false, "+12015550100", &rp);
    let replies = |form: Form| {
        vec![
            (false, tel::response(&p, form, &reg, 401)),
            (false, tel::response(&p, form, &reg, 200)),
            (false, tel::response(&p, form, &inv, 100)),
            (false, tel::response(&p, form, &inv, 200)),
            (false, tel::response(&p, form, &msg, 202)),
        ]
    };
    tel::sip_udp(&mut n, 1_700_000_000, &p, Carrier::Plain, &replies(Form::Full));
    tel::sip_tcp(&mut n, 1_700_000_010, &p, Carrier::Plain, &replies(Form::Compact));
    let p6 = tel::test_phone("[2001:db8:310:410::7]:5060", "[2001:db8:310::1]:5060", utran);
    tel::sip_udp(&mut n, 1_700_000_020, &p6, Carrier::GtpU, &replies(Form::Compact));
    // The replies do hold the identities: only their direction says
    // they are not uploads.
    assert!(n.packets.iter().any(|(_, b)| b.windows(IMSI.len()).any(|w| w == IMSI.as_bytes())));
    let (code, lines) = scan("replies", &n);
    assert_eq!(findings(&lines).len(), 0, "{:?}", findings(&lines));
    assert_eq!(code, Some(0));
}

/// The STS rule's kinds on the HTTP report of the fixture.
const STS_KINDS: [&str; 5] = ["imei", "device_model", "cell_location", "os_version", "serial"];

/// Frames a segmented message spans over GSMTAP: its findings are dated
/// by the frame that completed it (the last I-frame).
const SEGMENTS: usize = 8;

/// The findings of the STS cleartext rule at location `sms` in `frame_no`
/// (over GSMTAP: in one of the `SEGMENTS` frames from `frame_no`, the
/// first I-frame) name the recipient `to` (`host`, and `uri` `sms:<to>`)
/// and are the kinds the rule finds over HTTP.
fn assert_sts_sms(f: &[&Value], frame_no: usize, to: &str, what: &str) {
    let window = if what.contains("SDCCH") || what.contains("SACCH") || what.contains("GSMTAP") { SEGMENTS } else { 1 };
    let sts: Vec<&&Value> = f
        .iter()
        .filter(|x| (frame_no..frame_no + window).contains(&frame(x)) && x["rule"] == "TA-TINNO-STS-CLEAR")
        .collect();
    let kinds: Vec<&str> = sts.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, STS_KINDS, "{what}: frame {frame_no}: {f:?}");
    for x in &sts {
        assert_eq!(x["location"], "sms", "{what}: {x}");
        assert_eq!(x["host"], to, "{what}: recipient {to} not in {x}");
        assert_eq!(x["uri"], format!("sms:{to}"), "{what}: {x}");
    }
    assert_eq!(sts[0]["value"], wiko::IMEI1, "{what}");
}

/// The STS string as an SMS over IMS, in GTP-U (IPv6) and plain UDP
/// (IPv4), each acknowledged by 202 Accepted.
#[test]

fn sms_over_ims_sts_string_found_as_on_http() {
    let mut n = Net::default();
    let mut p = wiko::ims_phone();
    let rp = tel::rp_data_ms_to_n(1, wiko::SMSC, &wiko::sts_sms_tpdu());
    let msg = tel::message(&p, Form::Compact, Ident::Tel, false, wiko::SMSC, &rp);
    let ok = tel::response(&p, Form::Compact, &msg, 202);
    tel::sip_udp(&mut n, wiko::T0, &p, Carrier::GtpU, &[(true, msg), (false, ok)]);
    p.addr = support::addr("10.20.0.23:5060");
    p.pcscf = support::addr("10.20.0.5:5060");
    let msg = tel::message(&p, Form::Full, Ident::SipPhone, false, wiko::SMSC, &rp);
    let ok = tel::response(&p, Form::Full, &msg, 202);
    tel::sip_udp(&mut n, wiko::T0 + 5, &p, Carrier::Plain, &[(true, msg), (false, ok)]);
    let (_, lines) = scan("sms-ims", &n);
    let f = findings(&lines);
    assert_sts_sms(&f, 1, wiko::STS_SMS_TO, "GTP-U");
    assert_sts_sms(&f, 3, wiko::STS_SMS_TO, "plain UDP");
    assert!(f.iter().all(|x| frame(x) != 2 && frame(x) != 4), "nothing from 202: {f:?}");
}

/// The same SMS over GSMTAP: CP-DATA on SAPI 3 in LAPDm I-frames of 20
/// octets (SDCCH) and of 18 (SACCH), uplink.
#[test]

fn gsmtap_segmented_sms_found_as_on_http() {
    let cp = tel::cp_data(&tel::rp_data_ms_to_n(7, wiko::SMSC, &wiko::sts_sms_tpdu()));
    assert!(cp.len() > 4 * tel::N201_SDCCH, "several segments");
    let mut n = Net::default();
    tel::gsmtap_dedicated(&mut n, wiko::T0, wiko::ARFCN, 3, true, false, &cp);
    let sacch_first = n.packets.len() + 3;
    tel::gsmtap_dedicated(&mut n, wiko::T0 + 10, wiko::ARFCN, 3, true, true, &cp);
    let (_, lines) = scan("gsmtap-sms", &n);
    let f = findings(&lines);
    // Frame 3 is the first I-frame, after SABM and UA.
    assert_sts_sms(&f, 3, wiko::STS_SMS_TO, "SDCCH");
    assert_sts_sms(&f, sacch_first, wiko::STS_SMS_TO, "SACCH");
}

/// What the network sends down (an SMS-DELIVER to the phone) is not an
/// upload: GSMTAP's uplink flag decides.
/// (Passes today, when nothing decodes SMS: it guards the decoder.)
#[test]
fn gsmtap_downlink_sms_is_not_an_upload() {
    let tpdu = tel::sms_deliver("+33639980099", &wiko::sts_string(), Alphabet::Gsm7);
    let cp = tel::cp_data(&tel::rp_data_n_to_ms(9, wiko::SMSC, &tpdu[0]));
    let mut n = Net::default();
    tel::gsmtap_dedicated(&mut n, wiko::T0, wiko::ARFCN, 3, false, false, &cp);
    let (code, lines) = scan("gsmtap-down", &n);
    assert_eq!(findings(&lines).len(), 0, "{:?}", findings(&lines));
    assert_eq!(code, Some(0));
}

/// Long messages in concatenated parts are joined before scanning: the
/// STS string's IMEI is cut between two GSM 7-bit parts (8-bit reference,
/// over GSMTAP), and a UCS-2 message's e-mail address between two parts
/// (16-bit reference, over IMS), its phone number in the second.
#[test]

fn concatenated_sms_parts_are_joined() {
    // 153 septets a part; the IMEI starts 9 characters into the string.
    let text = format!("{}{}", "ok ".repeat(46) + "ok", wiko::sts_string());
    let imei_at = 140 + 9;
    assert!(imei_at < 153 && 153 < imei_at + 15, "the part boundary cuts the IMEI");
    let parts = tel::sms_submit_with(wiko::STS_SMS_TO, &text, Alphabet::Gsm7, Concat::Ref8(0x17), 3);
    assert_eq!(parts.len(), 2);
    let mut n = Net::default();
    // One SAPI 3 link, one CP-DATA transaction a part.
    let cps: Vec<Vec<u8>> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| tel::cp_data(&tel::rp_data_ms_to_n(i as u8, wiko::SMSC, part)))
        .collect();
    let first_frames = tel::gsmtap_dedicated_many(&mut n, wiko::T0, wiko::ARFCN, 3, true, false, &cps);

    let email = "lenny.owner@example.fr";
    let text = format!("{:.<60}{email} ou appelez le +33639980023, merci", "Réunion ☺ demain, répondez à ");
    let parts = tel::sms_submit_with("+33639980042", &text, Alphabet::Ucs2, Concat::Ref16(0xbeef), 9);
    assert_eq!(parts.len(), 2, "66 characters a part");
    let p = wiko::ims_phone();
    let ims_first = n.packets.len() + 1;
    for (i, part) in parts.iter().enumerate() {
        let rp = tel::rp_data_ms_to_n(0x20 + i as u8, wiko::SMSC, part);
        let msg = tel::message(&p, Form::Full, Ident::Tel, false, wiko::SMSC, &rp);
        let ok = tel::response(&p, Form::Full, &msg, 202);
        tel::sip_udp(&mut n, wiko::T0 + 100 + i as i64, &p, Carrier::GtpU, &[(true, msg), (false, ok)]);
    }

    let (_, lines) = scan("concat", &n);
    let f = findings(&lines);
    let sts: Vec<&&Value> = f.iter().filter(|x| x["rule"] == "TA-TINNO-STS-CLEAR" && x["kind"] == "imei").collect();
    assert_eq!(sts.len(), 1, "{f:?}");
    assert_eq!(sts[0]["value"], wiko::IMEI1);
    assert_eq!(sts[0]["location"], "sms");
    // Dated by the frame that completed the message (its last part).
    assert!(frame(sts[0]) > first_frames[1], "{} {first_frames:?}", sts[0]);
    let sms: Vec<&&Value> = f.iter().filter(|x| x["location"] == "sms" && frame(x) >= ims_first).collect();
    assert!(sms.iter().any(|x| x["kind"] == "email" && x["value"] == email), "{sms:?}");
    assert!(sms.iter().any(|x| x["kind"] == "msisdn" && digits(&x["value"]) == "33639980023"), "{sms:?}");
}

/// A concatenated SMS whose second part never comes: at the end of the
/// capture its first part is scanned all the same, with a note, and the
/// capture record counts it as incomplete.
#[test]
fn sms_with_a_part_missing_is_scanned_and_counted() {
    let text = format!("{}imei={} bye", "x".repeat(150), wiko::IMEI1);
    let parts = tel::sms_submit_with(wiko::STS_SMS_TO, &text, Alphabet::Gsm7, Concat::Ref8(0x42), 3);
    assert_eq!(parts.len(), 2);
    let p = wiko::ims_phone();
    let mut n = Net::default();
    // Only the second part (it holds the IMEI) is sent.
    let rp = tel::rp_data_ms_to_n(5, wiko::SMSC, &parts[1]);
    let msg = tel::message(&p, Form::Full, Ident::Tel, false, wiko::SMSC, &rp);
    tel::sip_udp(&mut n, wiko::T0, &p, Carrier::Plain, &[(true, msg)]);
    let (_, lines) = scan("sms-part-missing", &n);
    let f = findings(&lines);
    assert!(f.iter().any(|x| x["location"] == "sms" && x["value"] == wiko::IMEI1), "{f:?}");
    let cap = lines.iter().find(|v| v["type"] == "capture").expect("capture record");
    assert_eq!(cap["sms"]["incomplete"], 1, "{cap}");
    assert!(cap["notes"].to_string().contains("missing"), "{cap}");
}

/// Mobile identities in clear on a GSM signalling channel: an Identity
/// Response with the IMSI and one with the IMEI, a Location Updating
/// Request with the IMSI (in the SABM). A CM Service Request by TMSI,
/// the network's Identity Requests and UA echo, and System Information
/// on the BCCH give nothing.
#[test]

fn gsmtap_mobile_identities_in_clear() {
    let mut n = Net::default();
    let lai = tel::lai("208", "10", 0x2f01);
    for i in 0..3 {
        tel::gsmtap_udp(
            &mut n,
            wiko::T0,
            i * 235_000,
            &tel::gsmtap_um(wiko::ARFCN, false, tel::CH_BCCH, 0, &tel::system_information_3(0xbc55, &lai)),
        );
    }
    // Frames 4 and 5: Location Updating Request in the SABM, UA echo.
    tel::gsmtap_initial(&mut n, wiko::T0 + 1, wiko::ARFCN, &tel::location_updating_request(wiko::IMSI, &lai));
    tel::gsmtap_i_frame(&mut n, wiko::T0 + 1, 100_000, wiko::ARFCN, false, 0, &tel::identity_request(IdType::Imsi));
    // Frame 7: Identity Response with the IMSI.
    tel::gsmtap_i_frame(
        &mut n,
        wiko::T0 + 1,
        200_000,
        wiko::ARFCN,
        true,
        0,
        &tel::identity_response(IdType::Imsi, wiko::IMSI),
    );
    tel::gsmtap_i_frame(&mut n, wiko::T0 + 1, 300_000, wiko::ARFCN, false, 1, &tel::identity_request(IdType::Imei));
    // Frame 9: Identity Response with the IMEI.
    tel::gsmtap_i_frame(
        &mut n,
        wiko::T0 + 1,
        400_000,
        wiko::ARFCN,
        true,
        1,
        &tel::identity_response(IdType::Imei, wiko::IMEI1),
    );
    // Frames 10 and 11: a CM Service Request by TMSI.
    tel::gsmtap_initial(&mut n, wiko::T0 + 2, wiko::ARFCN, &tel::cm_service_request_sms(0x1a2b_3c4d));
    let (_, lines) = scan("gsmtap-mm", &n);
    let f = findings(&lines);
    let at: Vec<(usize, &str, String)> =
        f.iter().map(|x| (frame(x), x["kind"].as_str().unwrap_or(""), digits(&x["value"]))).collect();
    assert!(at.contains(&(4, "imsi", wiko::IMSI.to_string())), "{at:?}");
    assert!(at.contains(&(7, "imsi", wiko::IMSI.to_string())), "{at:?}");
    assert!(at.contains(&(9, "imei", wiko::IMEI1.to_string())), "{at:?}");
    assert!(at.iter().all(|(fr, ..)| [4, 7, 9].contains(fr)), "only from the phone's messages: {at:?}");
}

/// The Wiko fixture's SMS channel: the MESSAGE (frame 178) and the
/// LAPDm I-frames of the GSMTAP copy (from frame 182) carry the STS string;
/// the 202 Accepted (179) and the other LAPDm frames nothing of their own.
#[test]

fn fixture_sts_string_by_sms() {
    let net = wiko::build();
    assert!(net.packets[177].1.windows(8).any(|w| w == b"MESSAGE "), "frame 178 is the MESSAGE");
    let out = run(&["scan", "--format", "jsonl", "--show-values", FIXTURE]);
    let lines = jsonl(&out);
    let f = findings(&lines);
    assert_sts_sms(&f, 178, wiko::STS_SMS_TO, "IMS");
    assert_sts_sms(&f, 182, wiko::STS_SMS_TO, "GSMTAP");
    assert!(f.iter().all(|x| frame(x) <= 178 || (182..182 + SEGMENTS).contains(&frame(x))), "{f:?}");

    let out = run(&["requests", "--format", "jsonl", "--show-values", FIXTURE]);
    let lines = jsonl(&out);
    // The SMS over IMS in its MESSAGE's frame; over GSMTAP in the frame
    // of the I-frame that completed it.
    for fr in [178..179, 182..182 + SEGMENTS as u64] {
        let r = of_type(&lines, "request")
            .into_iter()
            .find(|r| {
                r["frame"].as_u64().is_some_and(|n| fr.contains(&n))
                    && r["protocol"].as_str().is_some_and(|p| p.starts_with("sms"))
            })
            .expect("SMS listed");
        let s = strings(r);
        assert!(s.iter().any(|x| x.ends_with(wiko::STS_SMS_TO)), "{r}");
        assert!(s.iter().any(|x| x.contains(&wiko::sts_string())), "{r}");
    }
}

/// Every string in a JSON value, recursively.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The iPhone capture of corpus-extra, when it is there.
fn corpus_extra() -> Option<PathBuf> {
    let cap = support::corpus_extra()?.join("arkime/gtp-iphone.pcap");
    assert!(cap.is_file(), "{} is missing", cap.display());
    Some(cap)
}

/// An iPhone on a test IMS core, captured in GTP-U: REGISTERs (the IMSI
/// in the Request-URI, the IMEI in +sip.instance, the E-UTRAN cell), a
/// 401 that echoes the IMSI, a call, and an SMS to 122 (frame 90).
#[test]

fn corpus_iphone_ims_identities_and_sms() {
    let Some(cap) = corpus_extra() else { return };
    let cap = cap.to_str().unwrap();
    let lines = jsonl(&run(&["scan", "--format", "jsonl", "--show-values", cap]));
    let f = findings(&lines);
    let has = |kind: &str, want: &str| f.iter().any(|x| x["kind"] == kind && digits(&x["value"]) == want);
    assert!(has("imsi", "310410010001002"), "{f:?}");
    // urn:gsma:imei:35442706-323347-9
    assert!(has("imei", "354427063233479"), "{f:?}");
    assert!(f.iter().any(|x| x["kind"] == "cell_location"
        && x["value"].as_str().is_some_and(|v| v.eq_ignore_ascii_case("31041000011a2d001"))));
    assert!(f.iter().all(|x| x["kind"] != "email"), "{f:?}");
    // The phone is fd00:183:1:1:1886:9040:8605:32b8; the core fd01::183
    // answers (401 with the IMSI, 200 OK with the number) and sends one
    // request (a BYE): the IMSI, IMEI and cell come from the phone.
    let own = ["imsi", "imei", "cell_location"];
    assert!(
        f.iter()
            .filter(|x| own.iter().any(|k| x["kind"] == *k))
            .all(|x| x["src"].as_str().is_some_and(|s| s.starts_with("[fd00:183:1:1:"))),
        "{f:?}"
    );
    // Replies of the core (16 401, 29 200, 34 405, 43 100, 45 180, 47 200,
    // 91 202) and of the phone (86 200 to BYE): nothing.
    for reply in [16, 29, 34, 43, 45, 47, 86, 91] {
        assert!(f.iter().all(|x| frame(x) != reply), "finding from reply frame {reply}");
    }

    let lines = jsonl(&run(&["requests", "--format", "jsonl", "--show-values", cap]));
    let sms = of_type(&lines, "request")
        .into_iter()
        .find(|r| r["frame"] == 90 && r["method"] == "SMS-SUBMIT")
        .expect("frame 90 listed");
    let s = strings(sms);
    assert!(s.iter().any(|x| x == "122" || x.ends_with(":122")), "to 122: {sms}");
    assert!(s.iter().any(|x| x == "test"), "text: {sms}");
}

/// The encoders against bytes of known origin: the SMS of the iPhone
/// capture (frame 90 of corpus-extra `arkime/gtp-iphone.pcap`, as
/// Wireshark dissects it: RP-DATA to `+7`, SMS-SUBMIT to 122, "test"),
/// the widely quoted 7-bit packing of "hellohello" (E8329BFD4697D9EC37),
/// and the TS 23.038 extension table. (Wireshark 4 decodes every capture of this module as
/// intended: SIP in both header forms, RP/TPDU, LAPDm reassembly,
/// concatenated GSM 7-bit and UCS-2 parts, MM identities.)
#[test]
fn encoders_reproduce_known_bytes() {
    let septets = |s: &str| -> Vec<u8> { s.chars().flat_map(|c| tel::gsm7_septets(c).unwrap()).collect() };
    assert_eq!(tel::gsm7_pack(&[], &septets("test")), (vec![0xf4, 0xf2, 0x9c, 0x0e], 4));
    assert_eq!(tel::gsm7_pack(&[], &septets("hellohello")).0, [0xe8, 0x32, 0x9b, 0xfd, 0x46, 0x97, 0xd9, 0xec, 0x37]);
    assert_eq!(septets("€[]"), [0x1b, 0x65, 0x1b, 0x3c, 0x1b, 0x3e]);
    // After a 6-octet UDH one fill bit puts the first septet at bit 49.
    let (ud, udl) = tel::gsm7_pack(&[5, 0, 3, 1, 2, 1], &septets("A"));
    assert_eq!((ud, udl), (vec![5, 0, 3, 1, 2, 1, 0x41 << 1], 8));
    assert_eq!(tel::tp_address("122"), [0x03, 0x81, 0x21, 0xf2]);
    let tpdu = [0x01, 0x00, 0x03, 0x81, 0x21, 0xf2, 0x00, 0x00, 0x04, 0xf4, 0xf2, 0x9c, 0x0e];
    let rp = tel::rp_data_ms_to_n(2, "+7", &tpdu);
    assert_eq!(rp[..7], [0x00, 0x02, 0x00, 0x02, 0x91, 0xf7, 0x0d]);
    assert_eq!(rp[7..], tpdu);
    assert_eq!(tel::mobile_identity(IdType::Imsi, "310410010001002"), [0x39, 0x01, 0x14, 0x00, 0x01, 0x00, 0x01, 0x20]);
    assert_eq!(tel::lai("208", "10", 0x2f01), [0x02, 0xf8, 0x01, 0x2f, 0x01]);
    let p = tel::test_phone("10.0.0.1:5060", "10.0.0.2:5060", tel::accesses()[0].clone());
    assert_eq!(p.imei_urn(), "urn:gsma:imei:35442706-323347-9");
    assert_eq!(p.impi(), "310410123456789@ims.mnc410.mcc310.3gppnetwork.org");
    let reg = String::from_utf8(tel::register(&p, Form::Compact, Ident::Tel, false, 1)).unwrap();
    for h in [
        "\r\nf: <tel:+12015550123>",
        "\r\nt: ",
        "\r\nm: <sip:10.0.0.1:5060>",
        "\r\ni: ",
        "\r\nv: SIP/2.0/UDP",
        "\r\nl: 0\r\n\r\n",
    ] {
        assert!(reg.contains(h), "{h:?} in {reg}");
    }
    assert!(wiko::ims_phone().domain() == "ims.mnc010.mcc208.3gppnetwork.org");
}
