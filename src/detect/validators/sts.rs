//! The Tinno Sales Tracking System report string in clear text, as the
//! SMS channel of `com.ape.saletracker` sends it and as it is before RSA
//! encryption on the HTTP channel:
//! `TN:IMEI1,<imei>,<customer no>,<model>,CID:<cell id hex>,<sw version>,<serial>`.
//! Other Tinno builds insert `MNC:`, `LAC:` (or CDMA `SID:`, `NID:`) fields
//! before the cell id, which may be `BID:` on CDMA.
//!
//! Each field is reported under its own kind: imei, device_model,
//! cell_location, os_version, serial. Example:
//! `TN:IMEI1,356938035643809,1011,WIKO LENNY3,CID:1A2B,V2.1.0,WKL3A1B2C3D4`.

use std::sync::LazyLock;

use regex::Regex;

use super::Hit;

static STS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"TN:IMEI\d?,(?P<imei>[0-9]{14,16}),(?P<customer>[^,]*),(?P<model>[^,]*),(?P<cell>(?:(?:MCC|MNC|LAC|SID|NID):[0-9A-Fa-f]*,)*(?:CID|BID):[0-9A-Fa-f]+),(?P<sw>[^,]*),(?P<serial>[A-Za-z0-9]+)",
    )
    .expect("static pattern")
});

pub fn detect(_key: &str, value: &str, out: &mut Vec<Hit>) {
    if !value.contains("TN:IMEI") {
        return;
    }
    for c in STS.captures_iter(value) {
        out.push(Hit::certain("imei", &c["imei"]));
        if !c["model"].is_empty() {
            out.push(Hit::certain("device_model", &c["model"]));
        }
        out.push(Hit::certain("cell_location", &c["cell"]));
        if !c["sw"].is_empty() {
            out.push(Hit::certain("os_version", &c["sw"]));
        }
        out.push(Hit::certain("serial", &c["serial"]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_report() {
        let mut o = Vec::new();
        detect("", "TN:IMEI1,356938035643809,1011,WIKO LENNY3,CID:1A2B,V2.1.0,WKL3A1B2C3D4", &mut o);
        let kinds: Vec<(&str, &str)> = o.iter().map(|h| (h.kind, h.value.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                ("imei", "356938035643809"),
                ("device_model", "WIKO LENNY3"),
                ("cell_location", "CID:1A2B"),
                ("os_version", "V2.1.0"),
                ("serial", "WKL3A1B2C3D4"),
            ]
        );
        let mut o = Vec::new();
        detect("", "TN:IMEI1,356938035643809,1011,M,MNC:01,LAC:2F,CID:1A2B,V2,S1", &mut o);
        assert_eq!(o[2].value, "MNC:01,LAC:2F,CID:1A2B");
    }
}
