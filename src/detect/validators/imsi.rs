//! IMSI: the SIM's subscriber identity (MCC + MNC + MSIN, 14-15 digits).
//! It names the subscriber, not the device, and survives a factory reset.
//! Example: `208101234567890` (MCC 208, France).
//!
//! Only with an IMSI-like key (`imsi`, `subscriberid`, ...): a bare
//! 15-digit number is far more often something else. The MCC must be one
//! ITU-T E.212 allocates (test network 001 included: firmware test rigs
//! use it). Traps: IMEIs under a generic key, 15-digit timestamps.

use super::{Hit, all_same, digits_only};
use crate::detect::keys;

/// Mobile country codes allocated in ITU-T E.212 (plus 001, test).
const MCC: &[u16] = &[
    1, 202, 204, 206, 208, 212, 213, 214, 216, 218, 219, 220, 221, 222, 225, 226, 228, 230, 231, 232, 234, 235, 238,
    240, 242, 244, 246, 247, 248, 250, 255, 257, 259, 260, 262, 266, 268, 270, 272, 274, 276, 278, 280, 282, 283, 284,
    286, 288, 289, 290, 292, 293, 294, 295, 297, 302, 308, 310, 311, 312, 313, 314, 315, 316, 330, 332, 334, 338, 340,
    342, 344, 346, 348, 350, 352, 354, 356, 358, 360, 362, 363, 364, 365, 366, 368, 370, 372, 374, 376, 400, 401, 402,
    404, 405, 406, 410, 412, 413, 414, 415, 416, 417, 418, 419, 420, 421, 422, 424, 425, 426, 427, 428, 429, 430, 431,
    432, 434, 436, 437, 438, 440, 441, 450, 452, 454, 455, 456, 457, 460, 461, 466, 467, 470, 472, 502, 505, 510, 514,
    515, 520, 525, 528, 530, 536, 537, 539, 540, 541, 542, 543, 544, 545, 546, 547, 548, 549, 550, 551, 552, 553, 554,
    555, 602, 603, 604, 605, 606, 607, 608, 609, 610, 611, 612, 613, 614, 615, 616, 617, 618, 619, 620, 621, 622, 623,
    624, 625, 626, 627, 628, 629, 630, 631, 632, 633, 634, 635, 636, 637, 638, 639, 640, 641, 642, 643, 645, 646, 647,
    648, 649, 650, 651, 652, 653, 654, 655, 657, 658, 659, 702, 704, 706, 708, 710, 712, 714, 716, 722, 724, 730, 732,
    734, 736, 738, 740, 742, 744, 746, 748, 750, 901,
];

/// True when the first three digits are an allocated MCC.
pub fn valid_mcc(digits: &str) -> bool {
    digits.get(..3).and_then(|m| m.parse::<u16>().ok()).is_some_and(|m| MCC.binary_search(&m).is_ok())
}

/// The home network of an IMS or EAP realm (`ims.mnc410.mcc310.
/// 3gppnetwork.org`), as (mcc, mnc) digits.
pub fn realm_network(value: &str) -> Option<(&str, &str)> {
    let lower = value.find("mnc")?;
    let mnc_start = lower + 3;
    let mnc_end = mnc_start + value[mnc_start..].bytes().take_while(u8::is_ascii_digit).count();
    let rest = value[mnc_end..].strip_prefix(".mcc")?;
    let mcc = rest.get(..3).filter(|m| m.bytes().all(|b| b.is_ascii_digit()))?;
    Some((mcc, &value[mnc_start..mnc_end]))
}

/// Is the 15-digit `run` an IMSI of the network named by a realm in
/// `value` (same MCC and MNC)?
pub fn of_realm(value: &str, run: &str) -> bool {
    let Some((mcc, mnc)) = realm_network(value) else { return false };
    let mnc2 = mnc.strip_prefix('0').unwrap_or(mnc);
    let tail = &run[3..];
    run.starts_with(mcc) && (tail.starts_with(mnc) || (mnc2.len() == 2 && tail.starts_with(mnc2)))
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.imsi, key) {
        // Without a key: a 15-digit user part whose MCC and MNC are those
        // of the realm beside it is an IMSI (IMS public and private
        // identities, EAP-SIM/AKA NAIs). Realms give the MNC in 3 digits.
        for run in super::number_runs(value, 15..=15, None) {
            if of_realm(value, run) {
                out.push(Hit::certain("imsi", run));
            }
        }
        return;
    }
    let v = value.trim().trim_start_matches("imsi-").trim_start_matches("IMSI-");
    if let Some(d) = digits_only(v)
        && (14..=15).contains(&d.len())
        && valid_mcc(&d)
        && !all_same(&d[3..])
    {
        out.push(Hit::new("imsi", v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcc_table_is_sorted_for_binary_search() {
        assert!(MCC.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn user_part_matching_its_realm() {
        let mut o = Vec::new();
        detect("", "REGISTER sip:310410010001002@ims.mnc410.mcc310.3gppnetwork.org SIP/2.0", &mut o);
        detect("", "sip:208101234567890@ims.mnc410.mcc310.3gppnetwork.org", &mut o);
        detect("", "0208101234567890@wlan.mnc010.mcc208.3gppnetwork.org", &mut o);
        let v: Vec<&str> = o.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(v, vec!["310410010001002"]);
    }

    #[test]
    fn keyed_with_real_mcc() {
        let mut o = Vec::new();
        detect("imsi", "208101234567890", &mut o);
        detect("imsi", "999101234567890", &mut o);
        detect("subscriberid", "001010123456789", &mut o);
        detect("id", "208101234567890", &mut o);
        let v: Vec<&str> = o.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(v, vec!["208101234567890", "001010123456789"]);
    }
}
