//! Key-name dictionaries per identifier kind: the names under which
//! devices and SDKs send each identifier, compared after [`normalize`]
//! (lower case, only letters and digits). Kept here as data, one list per
//! kind, so a reviewer sees every name a detector trusts.

/// Lower-cases and keeps letters and digits: `Device_IMEI` -> `deviceimei`.
pub fn normalize(key: &str) -> String {
    key.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The last component of a field name: `data:$.cells[0].cid` -> `cid`,
/// `ro.serialno` -> `serialno`; then normalised.
pub fn last_component(name: &str) -> String {
    let tail = name.rsplit([':', '.', '/']).next().unwrap_or(name);
    let tail = tail.split('[').next().unwrap_or(tail);
    let tail = if tail.is_empty() { name } else { tail };
    normalize(tail)
}

/// Is the normalised `key` in `list`?
pub fn is(list: &[&str], key: &str) -> bool {
    !key.is_empty() && list.contains(&key)
}

pub const IMEI: &[&str] =
    &["imei", "imei1", "imei2", "imeino", "imeinumber", "deviceimei", "phoneimei", "deviceid", "imeisv", "meid"];
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
pub const ANDROID_ID: &[&str] = &["androidid", "ssaid", "andid"];
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
    }
}
