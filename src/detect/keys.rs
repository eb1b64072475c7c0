//! Key names per identifier kind: the names under which devices and SDKs
//! send each identifier, compared after [`normalize`] (lower case, only
//! letters and digits). The lists are data, in `rules/keys.toml`, compiled
//! in, so a reviewer sees every name a detector trusts in one file.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

use super::validators::Detector;

/// Lower-cases and keeps letters and digits: `Device_IMEI` -> `deviceimei`.
pub fn normalize(key: &str) -> String {
    key.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The last component of a field name: `data:$.cells[0].cid` -> `cid`,
/// `ro.serialno` -> `serialno`; then normalised.
pub fn last_component(name: &str) -> String {
    normalize(tail_of(name))
}

/// The last component of a name, not yet normalised.
fn tail_of(name: &str) -> &str {
    // A quoted JSON key (`["ro.serialno"]`) is a name of its own.
    let name = bracket_key(name).unwrap_or(name);
    let tail = name.rsplit([':', '.', '/', '@']).next().unwrap_or(name);
    let tail = tail.split('[').next().unwrap_or(tail);
    let tail = if tail.is_empty() { name } else { tail };
    // `X-IMEI`, `x-device-id`: the extension-header prefix is not the name.
    tail.strip_prefix("X-").or_else(|| tail.strip_prefix("x-")).filter(|t| !t.is_empty()).unwrap_or(tail)
}

/// Longest normalised key kept: every dictionary key is shorter, so a
/// longer name can never match and is not copied.
pub const MAX_KEY: usize = 24;

/// A normalised key on the stack (no allocation per field).
#[derive(Clone, Copy, Default)]
pub struct Key {
    buf: [u8; MAX_KEY],
    len: u8,
}

impl Key {
    /// The normalised last component of a field name (see
    /// [`last_component`]); empty when longer than [`MAX_KEY`].
    pub fn of(name: &str) -> Key {
        let tail = tail_of(name);
        let mut k = Key::default();
        for c in tail.bytes().filter(u8::is_ascii_alphanumeric) {
            if usize::from(k.len) == MAX_KEY {
                return Key::default();
            }
            k.buf[usize::from(k.len)] = c.to_ascii_lowercase();
            k.len += 1;
        }
        k
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters and digits are ever stored.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

/// Which detectors trust a key: a bit per [`Detector`] (see
/// [`Detector::bit`]), from the dictionaries below.
pub fn detectors_for(key: &str) -> u32 {
    type Map = HashMap<&'static str, u32, std::hash::BuildHasherDefault<crate::util::FnvHasher>>;
    static MAP: LazyLock<Map> = LazyLock::new(|| {
        let mut m: HashMap<&'static str, u32, _> = Map::default();
        let lists: Vec<(&Vec<String>, Detector)> = vec![
            (&KEYS.imei, Detector::Imei),
            (&KEYS.imsi, Detector::Imsi),
            (&KEYS.meid, Detector::Meid),
            (&KEYS.iccid, Detector::Iccid),
            (&KEYS.msisdn, Detector::Msisdn),
            (&KEYS.sip_uri, Detector::SipUri),
            (&KEYS.serial, Detector::Serial),
            (&KEYS.mac, Detector::Mac),
            (&KEYS.android_id, Detector::AndroidId),
            (&KEYS.advertising_id, Detector::AdvertisingId),
            (&KEYS.device_model, Detector::DeviceModel),
            (&KEYS.os_version, Detector::OsVersion),
            (&KEYS.cell_id, Detector::CellLocation),
            (&KEYS.cell_area, Detector::CellLocation),
            (&KEYS.cell_global, Detector::CellLocation),
            (&KEYS.latitude, Detector::GeoLocation),
            (&KEYS.longitude, Detector::GeoLocation),
            (&KEYS.lat_lon_pair, Detector::GeoLocation),
        ];
        for (list, d) in lists {
            for k in list {
                *m.entry(k.as_str()).or_default() |= d.bit();
            }
        }
        m
    });
    MAP.get(key).copied().unwrap_or(0)
}

/// The key of a trailing `["$device_id"]` JSON path step.
fn bracket_key(name: &str) -> Option<&str> {
    let inner = name.strip_suffix("\"]")?;
    let start = inner.rfind("[\"")?;
    Some(&inner[start + 2..])
}

/// Is the normalised `key` in `list`?
pub fn is(list: &[String], key: &str) -> bool {
    !key.is_empty() && list.iter().any(|k| k == key)
}

/// The key-name dictionaries, from `rules/keys.toml` (data, not code).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub imei: Vec<String>,
    pub meid: Vec<String>,
    pub imsi: Vec<String>,
    pub iccid: Vec<String>,
    pub msisdn: Vec<String>,
    pub serial: Vec<String>,
    pub mac: Vec<String>,
    pub android_id: Vec<String>,
    pub advertising_id: Vec<String>,
    pub device_model: Vec<String>,
    pub os_version: Vec<String>,
    pub cell_id: Vec<String>,
    pub cell_area: Vec<String>,
    pub cell_global: Vec<String>,
    pub latitude: Vec<String>,
    pub longitude: Vec<String>,
    pub lat_lon_pair: Vec<String>,
    pub sip_uri: Vec<String>,
}

/// The built-in dictionaries, normalised once.
pub static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let mut k: Keys = toml::from_str(include_str!("../../rules/keys.toml"))
        .expect("rules/keys.toml is valid: the test `keys_file_loads` checks it");
    k.imei = k.imei.iter().map(|x| normalize(x)).collect();
    k.meid = k.meid.iter().map(|x| normalize(x)).collect();
    k.imsi = k.imsi.iter().map(|x| normalize(x)).collect();
    k.iccid = k.iccid.iter().map(|x| normalize(x)).collect();
    k.msisdn = k.msisdn.iter().map(|x| normalize(x)).collect();
    k.sip_uri = k.sip_uri.iter().map(|x| normalize(x)).collect();
    k.serial = k.serial.iter().map(|x| normalize(x)).collect();
    k.mac = k.mac.iter().map(|x| normalize(x)).collect();
    k.android_id = k.android_id.iter().map(|x| normalize(x)).collect();
    k.advertising_id = k.advertising_id.iter().map(|x| normalize(x)).collect();
    k.device_model = k.device_model.iter().map(|x| normalize(x)).collect();
    k.os_version = k.os_version.iter().map(|x| normalize(x)).collect();
    k.cell_id = k.cell_id.iter().map(|x| normalize(x)).collect();
    k.cell_area = k.cell_area.iter().map(|x| normalize(x)).collect();
    k.cell_global = k.cell_global.iter().map(|x| normalize(x)).collect();
    k.latitude = k.latitude.iter().map(|x| normalize(x)).collect();
    k.longitude = k.longitude.iter().map(|x| normalize(x)).collect();
    k.lat_lon_pair = k.lat_lon_pair.iter().map(|x| normalize(x)).collect();
    k
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_components() {
        assert_eq!(last_component("data:$.cells[0].cid"), "cid");
        assert_eq!(last_component("ro.serialno"), "serialno");
        assert_eq!(last_component("Device_IMEI"), "deviceimei");
        assert_eq!(last_component("$.list[3]"), "list");
        assert_eq!(last_component("d:$[0].properties[\"$device_id\"]"), "deviceid");
        assert_eq!(last_component("$.data[\"ro.serialno\"]"), "serialno");
        assert_eq!(last_component("X-IMEI"), "imei");
        for name in ["data:$.cells[0].cid", "ro.serialno", "Device_IMEI", "$.list[3]", "$[\"$device_id\"]"] {
            assert_eq!(Key::of(name).as_str(), last_component(name));
        }
        assert_eq!(Key::of(&"x".repeat(40)).as_str(), "");
    }

    #[test]
    fn keys_file_loads() {
        assert!(KEYS.imei.contains(&"imei".to_string()));
        assert!(KEYS.serial.contains(&"serialno".to_string()));
    }

    #[test]
    fn key_bits() {
        assert_eq!(detectors_for("imei"), Detector::Imei.bit());
        assert_eq!(detectors_for("cid"), Detector::CellLocation.bit());
        assert_eq!(detectors_for("city"), 0);
    }
}
