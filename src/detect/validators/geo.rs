//! GPS position: a latitude/longitude pair under location keys (`lat` and
//! `lon`/`lng` in one group, or a `latlng=48.85,2.35` value). Precise
//! location is personal data on its own.
//!
//! Values must be decimal numbers in range with a fractional part. Traps:
//! `0,0` (no fix), integer page/size parameters named `lat`.

use super::Hit;
use super::cell::Part;
use crate::detect::keys;

fn coord(v: &str, max: f64) -> Option<f64> {
    let v = v.trim();
    if !v.contains('.') {
        return None;
    }
    let x: f64 = v.parse().ok()?;
    (x.is_finite() && x.abs() <= max).then_some(x)
}

pub fn detect(parts: &[Part<'_>]) -> Vec<(Hit, usize)> {
    let mut out = Vec::new();
    let lons: Vec<&Part<'_>> = parts.iter().filter(|p| keys::is(&keys::KEYS.longitude, p.key)).collect();
    for lat in parts.iter().filter(|p| keys::is(&keys::KEYS.latitude, p.key)) {
        let Some(la) = coord(lat.value, 90.0) else {
            continue;
        };
        let lon = lons.iter().find(|p| {
            p.group == lat.group && keys::is(&keys::KEYS.longitude, p.key) && coord(p.value, 180.0).is_some()
        });
        if let Some(lon) = lon {
            let lo = coord(lon.value, 180.0).unwrap_or(0.0);
            if la != 0.0 || lo != 0.0 {
                out.push((Hit::new("geo_location", format!("{},{}", lat.value.trim(), lon.value.trim())), lat.index));
            }
        }
    }
    for p in parts.iter().filter(|p| keys::is(&keys::KEYS.lat_lon_pair, p.key)) {
        let mut it = p.value.split(',');
        if let (Some(a), Some(b), None) = (it.next(), it.next(), it.next())
            && let (Some(la), Some(lo)) = (coord(a, 90.0), coord(b, 180.0))
            && (la != 0.0 || lo != 0.0)
        {
            out.push((Hit::new("geo_location", p.value.trim()), p.index));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_range() {
        let parts = [
            Part { group: "", key: "lat", value: "48.8566", index: 0 },
            Part { group: "", key: "lng", value: "2.3522", index: 1 },
            Part { group: "x", key: "lat", value: "3", index: 2 },
            Part { group: "x", key: "lon", value: "4", index: 3 },
            Part { group: "y", key: "latlng", value: "0.0,0.0", index: 4 },
        ];
        assert_eq!(detect(&parts), vec![(Hit::new("geo_location", "48.8566,2.3522"), 0)]);
    }
}
