//! Geolocation request bodies (Google's Geolocation API, Mozilla Location
//! Service / Ichnaea geosubmit) and MAC evidence for bare 12-hex tokens.
//!
//! The bodies follow the field names of the Geolocation API reference
//! (developers.google.com/maps/documentation/geolocation/requests-geolocation)
//! and Ichnaea's geolocate and geosubmit v2 APIs. The vendor prefixes are
//! from rules/oui.txt: 04D9F5 ASUSTek, 50C7BF TP-Link, C46E1F TP-Link,
//! F4F26D TP-Link, 9CC7A6 AVM, 3C0754 Apple; 7F3E9A and 7A1C9E are in no
//! vendor's table entry.

use super::{ClassCase, get, post};

const GEO: &str = "geolocation";
const MAC: &str = "mac-evidence";

pub fn cases() -> Vec<ClassCase> {
    let mut v = geolocation();
    v.extend(mac_evidence());
    v
}

fn geolocation() -> Vec<ClassCase> {
    let google = r#"{"homeMobileCountryCode":208,"homeMobileNetworkCode":10,"radioType":"lte","carrier":"Orange F","considerIp":false,
"cellTowers":[
 {"cellId":31417,"locationAreaCode":1201,"mobileCountryCode":208,"mobileNetworkCode":1,"age":0,"signalStrength":-71},
 {"cellId":26872068,"locationAreaCode":21013,"mobileCountryCode":208,"mobileNetworkCode":10,"age":1200,"signalStrength":-95,"timingAdvance":7},
 {"newRadioCellId":68719476734,"locationAreaCode":330001,"signalStrength":-88}],
"wifiAccessPoints":[
 {"macAddress":"c4:6e:1f:2a:3b:4c","signalStrength":-43,"channel":11,"age":0},
 {"macAddress":"F4-F2-6D-11-22-33","signalStrength":-67,"channel":6},
 {"macAddress":"9c:c7:a6:44:55:66","signalStrength":-80,"channel":36,"signalToNoiseRatio":12},
 {"macAddress":"7f3e9a010203","signalStrength":-85,"channel":1}]}"#;
    let mls = r#"{"items":[
 {"timestamp":1700200000000,"position":{"latitude":48.8566,"longitude":2.3522,"accuracy":12.5,"altitude":35.0,"source":"gps"},
  "cellTowers":[{"radioType":"wcdma","mobileCountryCode":208,"mobileNetworkCode":20,"locationAreaCode":4003,"cellId":12345678,"primaryScramblingCode":302,"asu":17,"serving":1}],
  "wifiAccessPoints":[{"macAddress":"3c:07:54:0a:0b:0c","ssid":"Livebox-1234","frequency":2437,"signalStrength":-61}],
  "bluetoothBeacons":[{"macAddress":"50:c7:bf:00:11:22","name":"beacon","signalStrength":-90}]},
 {"timestamp":1700200060000,"position":{"latitude":48.8570,"longitude":2.3530,"accuracy":8.0},
  "cellTowers":[{"radioType":"lte","mobileCountryCode":208,"mobileNetworkCode":20,"locationAreaCode":41001,"cellId":26872069,"primaryScramblingCode":412}],
  "wifiAccessPoints":[{"macAddress":"3c:07:54:0d:0e:0f","ssid":"FreeWifi"}]}]}"#;
    let wifi_only = r#"{"considerIp":false,"wifiAccessPoints":[{"macAddress":"c4:6e:1f:99:88:77","signalStrength":-50},{"macAddress":"c46e1f665544","signalStrength":-71,"channel":44}]}"#;
    let no_towers = r#"{"homeMobileCountryCode":208,"homeMobileNetworkCode":10,"radioType":"lte","carrier":"Orange F","considerIp":true}"#;
    let content_id = r#"{"cellId":48213,"layout":"grid","page":2,"age":3,"signalStrength":-1,"channel":11}"#;
    let unavailable = r#"{"cellTowers":[{"cellId":2147483647,"locationAreaCode":2147483647,"mobileCountryCode":208,"mobileNetworkCode":10,"signalStrength":-99}]}"#;
    let json = "application/json";
    vec![
        ClassCase::http(
            GEO,
            "Google geolocate: GSM, LTE and NR towers, four access points",
            "192.0.2.81:80",
            post("www.googleapis.com", "/geolocation/v1/geolocate", json, google),
        )
        .must("cell_location", "cid=31417")
        .must("cell_location", "cid=26872068")
        .must("cell_location", "cid=68719476734")
        .must("mac", "c4:6e:1f:2a:3b:4c")
        .must("mac", "f4:f2:6d:11:22:33")
        .must("mac", "9c:c7:a6:44:55:66")
        .must("mac", "7f3e9a010203"),
        ClassCase::http(
            GEO,
            "MLS / Ichnaea geosubmit v2: two items with positions, towers, Wi-Fi and a beacon",
            "192.0.2.81:80",
            post("location.services.mozilla.com", "/v2/geosubmit", json, mls),
        )
        .must("geo_location", "48.8566,2.3522")
        .must("geo_location", "48.8570,2.3530")
        .must("cell_location", "cid=12345678")
        .must("cell_location", "cid=26872069")
        .must("mac", "3c:07:54:0a:0b:0c")
        .must("mac", "50:c7:bf:00:11:22")
        .must("mac", "3c:07:54:0d:0e:0f"),
        ClassCase::http(
            GEO,
            "geolocate with access points only",
            "192.0.2.81:80",
            post("api.beacondb.net", "/v1/geolocate", json, wifi_only),
        )
        .must("mac", "c4:6e:1f:99:88:77")
        .must("mac", "c46e1f665544"),
        ClassCase::http(
            GEO,
            "decoy: geolocate with no tower and no access point",
            "192.0.2.81:80",
            post("www.googleapis.com", "/geolocation/v1/geolocate", json, no_towers),
        )
        .clean(),
        ClassCase::http(
            GEO,
            "decoy: a content cellId with no area, and signal/age/channel numbers",
            "192.0.2.81:80",
            post("cms.example", "/api/cells", json, content_id),
        )
        .clean(),
        ClassCase::http(
            GEO,
            "decoy: a tower whose ids are Android's 'unavailable'",
            "192.0.2.81:80",
            post("www.googleapis.com", "/geolocation/v1/geolocate", json, unavailable),
        )
        .clean(),
    ]
}

fn mac_evidence() -> Vec<ClassCase> {
    let form = "application/x-www-form-urlencoded";
    vec![
        ClassCase::http(
            MAC,
            "MAC glued to the end of a router's model and firmware string (ASUS prefix)",
            "192.0.2.82:80",
            get("dlcdnets.router.example", "/ws/check?model=RT-AX88U_3.0.0.4_04d9f5a1b2c3&lang=en", ""),
        )
        .must("mac", "04d9f5a1b2c3")
        .must("device_model", "RT-AX88U_3.0.0.4_04d9f5a1b2c3"),
        ClassCase::http(
            MAC,
            "MAC as the user part of an ISP login (TP-Link prefix)",
            "192.0.2.82:80",
            post("cwmp.router.example", "/acs", form, "login=50C7BF0A1B2C@isp.example&realm=dsl"),
        )
        .must("mac", "50C7BF0A1B2C")
        .must("email", "50C7BF0A1B2C@isp.example"),
        ClassCase::http(
            MAC,
            "decoy: 12-hex request ids with no vendor prefix, or a randomised one",
            "192.0.2.82:80",
            get("api.example", "/v1/track?rid=req_7f3e9a01c2d4_17&job=run-a65e60123456-done&build=3c0754", ""),
        )
        .clean(),
        ClassCase::http(
            MAC,
            "decoy: 12-hex etags and the random node of a UUID",
            "192.0.2.82:80",
            get(
                "cdn.example",
                "/assets/app.js?etag=7a1c9e3b5d20",
                "If-None-Match: \"04d9f5c0ffe1\"\r\nX-Request-Id: 9b2f7c1e-3d4a-4f6b-8c2d-04d9f5a1b2c9\r\n",
            ),
        )
        .clean(),
    ]
}
