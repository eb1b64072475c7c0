//! Cell location: the serving cell's identity (MCC, MNC, LAC/TAC, cell id;
//! SID/NID/BID on CDMA). With an open cell-id database it places the phone
//! within a few hundred metres; Wiko said the STS cell id "was never
//! activated", yet it was sent.
//!
//! Judged per group of fields that share a parent (one query string, one
//! JSON object): a cell-id key with a number (decimal or hex) plus at least
//! one area key (LAC/TAC, MCC, MNC, SID, NID). Each tower of a Google
//! Geolocation API or Mozilla Location Service / Ichnaea body
//! (`cellTowers[]`: `cellId` or `newRadioCellId`, `locationAreaCode`,
//! `mobileCountryCode`, `mobileNetworkCode`) is one finding, its value in
//! short names (`mcc=208,mnc=10,lac=1234,cid=5678`); a tower without its
//! own MCC/MNC takes the request's `homeMobileCountryCode` /
//! `homeMobileNetworkCode`. Traps: `cid=12` alone (a CMS content id, a
//! campaign id) is not reported, nor the "unavailable" cell ids Android
//! reports (`2147483647`), nor `signalStrength`, `age`, `timingAdvance`.

use super::Hit;
use crate::detect::keys;
use crate::detect::keys::compact_eq;

/// One field as the per-request detectors see it.
pub struct Part<'a> {
    pub group: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub index: usize,
}

fn numeric(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Long key names and the short name the finding's value uses for them.
const SHORT: [(&str, &str); 11] = [
    ("cellid", "cid"),
    ("newradiocellid", "nci"),
    ("basestationid", "bid"),
    ("locationareacode", "lac"),
    ("trackingareacode", "tac"),
    ("mobilecountrycode", "mcc"),
    ("mobilenetworkcode", "mnc"),
    ("homemobilecountrycode", "mcc"),
    ("homemobilenetworkcode", "mnc"),
    ("primaryscramblingcode", "psc"),
    ("physicalcellid", "pci"),
];

fn short(key: &str) -> &str {
    SHORT.iter().find(|(long, _)| compact_eq(key, long)).map_or(key, |(_, s)| s)
}

/// A home network's code (`homeMobileCountryCode`), which completes a
/// tower that lacks its own.
fn is_home(key: &str) -> bool {
    compact_eq(key, "homemobilecountrycode") || compact_eq(key, "homemobilenetworkcode")
}

/// Where a part goes in the value: network codes first, then the area,
/// then the radio's local codes.
fn rank(short: &str) -> u8 {
    match short {
        "mcc" => 0,
        "mnc" | "sid" => 1,
        "psc" | "pci" => 3,
        _ => 2,
    }
}

/// Cell ids that stand for "unavailable": Android's `Integer.MAX_VALUE`
/// (`CellInfo.UNAVAILABLE`), all-ones 32 bits, zero.
fn unavailable(v: &str) -> bool {
    matches!(v.trim_start_matches('0'), "" | "2147483647" | "4294967295")
}

/// Is group `outer` the parent (or an ancestor) of group `inner`?
fn encloses(outer: &str, inner: &str) -> bool {
    inner.len() > outer.len() && inner.starts_with(outer) && matches!(inner.as_bytes()[outer.len()], b'.' | b'[')
}

/// Returns the hits with the index of the field carrying the cell id.
pub fn detect(parts: &[Part<'_>]) -> Vec<(Hit, usize)> {
    let mut out = Vec::new();
    for p in parts.iter().filter(|p| keys::is(&keys::KEYS.cell_global, p.key)) {
        let v = p.value.trim();
        // Up to the NR form: MCC, MNC (3), TAC (6 hex), NCI (9 hex).
        if v.len() >= 9 && v.len() <= 24 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push((Hit::new("cell_location", v), p.index));
        }
    }
    // Only cell keys matter: most requests have none, and then this is
    // one pass over the keys.
    let cellish: Vec<&Part<'_>> = parts
        .iter()
        .filter(|p| {
            (keys::is(&keys::KEYS.cell_id, p.key) || keys::is(&keys::KEYS.cell_area, p.key)) && numeric(p.value)
        })
        .collect();
    let is_cell = |p: &Part<'_>| keys::is(&keys::KEYS.cell_id, p.key) && !unavailable(p.value.trim());
    let mut groups: Vec<&str> = cellish.iter().filter(|p| is_cell(p)).map(|p| p.group).collect();
    groups.sort_unstable();
    groups.dedup();
    // The home network's codes, for towers that lack their own.
    let home: Vec<&Part<'_>> = cellish.iter().copied().filter(|p| is_home(p.key)).collect();
    for g in groups {
        let in_group = || cellish.iter().copied().filter(move |p| p.group == g);
        let Some(cell) = in_group().find(|p| is_cell(p)) else {
            continue;
        };
        let mut area: Vec<(&str, &str)> = in_group()
            .filter(|p| keys::is(&keys::KEYS.cell_area, p.key))
            .map(|p| (short(p.key), p.value.trim()))
            .collect();
        if area.is_empty() {
            continue;
        }
        // They complete a tower, never make one of a lone id.
        for h in home.iter().filter(|h| encloses(h.group, g)) {
            let code = short(h.key);
            if !area.iter().any(|(k, _)| *k == code) {
                area.push((code, h.value.trim()));
            }
        }
        area.sort_by_key(|(k, _)| rank(k));
        let mut value: Vec<String> = area.iter().map(|(k, v)| format!("{k}={v}")).collect();
        value.push(format!("{}={}", short(cell.key), cell.value.trim()));
        out.push((Hit::new("cell_location", value.join(",")), cell.index));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p<'a>(group: &'a str, key: &'a str, value: &'a str, index: usize) -> Part<'a> {
        Part { group, key, value, index }
    }

    #[test]
    fn needs_an_area_with_the_cell() {
        let parts =
            [p("q", "mcc", "208", 0), p("q", "mnc", "10", 1), p("q", "lac", "1234", 2), p("q", "cid", "5678", 3)];
        let hits = detect(&parts);
        assert_eq!(hits, vec![(Hit::new("cell_location", "mcc=208,mnc=10,lac=1234,cid=5678"), 3)]);
        assert!(detect(&[p("q", "cid", "12", 0), p("q", "page", "3", 1)]).is_empty());
        let pani = detect(&[p("h", "utrancellid3gpp", "31041000011a2d001", 4)]);
        assert_eq!(pani, vec![(Hit::new("cell_location", "31041000011a2d001"), 4)]);
    }

    #[test]
    fn geolocation_towers_one_each_with_home_codes() {
        // Google Geolocation API: an LTE tower with its own codes, an NR
        // tower with only its TAC (home MCC/MNC stand in), an unavailable
        // cell id, a lone id (the home codes do not make it a tower).
        let parts = [
            p("$", "homemobilecountrycode", "208", 0),
            p("$", "homemobilenetworkcode", "10", 1),
            p("$.cellTowers[0]", "cellid", "26872068", 2),
            p("$.cellTowers[0]", "locationareacode", "21013", 3),
            p("$.cellTowers[0]", "mobilecountrycode", "208", 4),
            p("$.cellTowers[0]", "mobilenetworkcode", "1", 5),
            p("$.cellTowers[1]", "newradiocellid", "68719476735", 6),
            p("$.cellTowers[1]", "locationareacode", "330001", 7),
            p("$.cellTowers[2]", "cellid", "2147483647", 8),
            p("$.cellTowers[2]", "locationareacode", "330001", 9),
            p("$.cellTowersx[0]", "cellid", "77", 10),
        ];
        let v: Vec<(String, usize)> = detect(&parts).into_iter().map(|(h, i)| (h.value, i)).collect();
        assert_eq!(
            v,
            vec![
                ("mcc=208,mnc=1,lac=21013,cid=26872068".to_string(), 2),
                ("mcc=208,mnc=10,lac=330001,nci=68719476735".to_string(), 6),
            ]
        );
        // A lone cell id; home codes of another branch do not complete it.
        assert!(detect(&[p("$", "cellid", "12", 0)]).is_empty());
        let other = detect(&[
            p("$.a", "homemobilecountrycode", "208", 0),
            p("$.b", "cellid", "12", 1),
            p("$.b", "lac", "7", 2),
        ]);
        assert_eq!(other, vec![(Hit::new("cell_location", "lac=7,cid=12"), 1)]);
    }
}
