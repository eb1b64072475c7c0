//! Cell location: the serving cell's identity (MCC, MNC, LAC/TAC, cell id;
//! SID/NID/BID on CDMA). With an open cell-id database it places the phone
//! within a few hundred metres; Wiko said the STS cell id "was never
//! activated", yet it was sent.
//!
//! Judged per group of fields that share a parent (one query string, one
//! JSON object): a cell-id key with a number (decimal or hex) plus at least
//! one area key (LAC/TAC, MCC, MNC, SID, NID). Traps: `cid=12` alone (a
//! CMS content id, a campaign id) is not reported.

use super::Hit;
use crate::detect::keys;

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
    let mut groups: Vec<&str> =
        cellish.iter().filter(|p| keys::is(&keys::KEYS.cell_id, p.key)).map(|p| p.group).collect();
    groups.sort_unstable();
    groups.dedup();
    for g in groups {
        let in_group = || cellish.iter().copied().filter(move |p| p.group == g);
        let Some(cell) = in_group().find(|p| keys::is(&keys::KEYS.cell_id, p.key)) else {
            continue;
        };
        let area: Vec<&Part<'_>> = in_group().filter(|p| keys::is(&keys::KEYS.cell_area, p.key)).collect();
        if area.is_empty() {
            continue;
        }
        let mut value: Vec<String> = area.iter().map(|p| format!("{}={}", p.key, p.value.trim())).collect();
        value.push(format!("{}={}", cell.key, cell.value.trim()));
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
}
