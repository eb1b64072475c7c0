//! Key-name dictionaries per identifier kind: the names under which
//! devices and SDKs send each identifier, compared after [`normalize`]
//! (lower case, only letters and digits). Kept here as data, one list per
//! kind, so a reviewer sees every name a detector trusts.

use std::collections::HashMap;
use std::sync::LazyLock;

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
    type Map = HashMap<&'static str, u32, std::hash::BuildHasherDefault<crate::flow::FnvHasher>>;
    static MAP: LazyLock<Map> = LazyLock::new(|| {
        let mut m = Map::default();
        let lists: [(&[&str], Detector); 17] = [
            (IMEI, Detector::Imei),
            (IMSI, Detector::Imsi),
            (MEID, Detector::Meid),
            (ICCID, Detector::Iccid),
            (MSISDN, Detector::Msisdn),
            (SERIAL, Detector::Serial),
            (MAC, Detector::Mac),
            (ANDROID_ID, Detector::AndroidId),
            (ADVERTISING_ID, Detector::AdvertisingId),
            (DEVICE_MODEL, Detector::DeviceModel),
            (OS_VERSION, Detector::OsVersion),
            (CELL_ID, Detector::CellLocation),
            (CELL_AREA, Detector::CellLocation),
            (CELL_GLOBAL, Detector::CellLocation),
            (LATITUDE, Detector::GeoLocation),
            (LONGITUDE, Detector::GeoLocation),
            (LAT_LON_PAIR, Detector::GeoLocation),
        ];
        for (list, d) in lists {
            for k in list {
                *m.entry(k).or_default() |= d.bit();
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
pub fn is(list: &[&str], key: &str) -> bool {
    !key.is_empty() && list.contains(&key)
}

pub const IMEI: &[&str] =
    &["imei", "imei1", "imei2", "imeino", "imeinumber", "deviceimei", "phoneimei", "deviceid", "imeisv", "meid"];
pub const MEID: &[&str] = &["meid", "esn", "pesn", "meidhex", "meiddec", "cdmaid"];
pub const IMSI: &[&str] = &["imsi", "imsi1", "imsi2", "subscriberid", "simimsi", "subscriber", "imsino"];
pub const ICCID: &[&str] = &["iccid", "simserial", "simserialnumber", "iccid1", "iccid2", "simid"];
pub const MSISDN: &[&str] = &[
    "msisdn",
    "phone",
    "phonenumber",
    "phoneno",
    "tel",
    "telephone",
    "mobile",
    "mobileno",
    "mobilenumber",
    "line1number",
    "mdn",
    "phonenum",
];
pub const SERIAL: &[&str] =
    &["sn", "serial", "serialno", "serialnumber", "deviceserial", "hwserial", "buildserial", "devicesn", "sno"];
pub const MAC: &[&str] =
    &["mac", "macaddr", "macaddress", "wifimac", "wlanmac", "btmac", "bssid", "apmac", "clientmac"];
/// `device_id` holds an Android ID as often as an IMEI: the value's shape
/// (16 hex digits, or 15 Luhn digits) decides.
pub const ANDROID_ID: &[&str] = &["androidid", "ssaid", "andid", "deviceid"];
pub const ADVERTISING_ID: &[&str] =
    &["gaid", "adid", "aaid", "idfa", "oaid", "advertisingid", "gpsadid", "googleadid", "adsid", "advertiserid"];
pub const DEVICE_MODEL: &[&str] = &["model", "devicemodel", "phonemodel", "mobilemodel", "productmodel", "hwmodel"];
pub const OS_VERSION: &[&str] = &[
    "osversion",
    "osv",
    "swversion",
    "softwareversion",
    "firmwareversion",
    "romversion",
    "buildversion",
    "sysversion",
    "androidversion",
];

/// Cell location parts: a cell id key plus at least one area key.
pub const CELL_ID: &[&str] = &["cid", "ci", "cellid", "eci", "ecgi", "nci", "bid", "basestationid"];
pub const CELL_AREA: &[&str] = &["lac", "tac", "mcc", "mnc", "sid", "nid", "psc", "pci"];
/// Cell identities that hold the network and area themselves (3GPP TS
/// 24.229 P-Access-Network-Info; ECGI, NCGI): one suffices.
pub const CELL_GLOBAL: &[&str] =
    &["utrancellid3gpp", "eutrancellid3gpp", "nrcellid3gpp", "cgi3gpp", "ecgi", "ncgi", "cellglobalid"];

pub const LATITUDE: &[&str] = &["lat", "latitude", "gpslat"];
pub const LONGITUDE: &[&str] = &["lon", "lng", "long", "longitude", "gpslon", "gpslng"];
pub const LAT_LON_PAIR: &[&str] = &["latlng", "latlon", "ll", "gps", "location", "loc", "coordinates"];

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
    fn key_bits() {
        assert_eq!(detectors_for("imei"), Detector::Imei.bit());
        assert_eq!(detectors_for("cid"), Detector::CellLocation.bit());
        assert_eq!(detectors_for("city"), 0);
    }
}
