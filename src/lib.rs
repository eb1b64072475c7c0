//! teleaudit: finds device identifiers uploaded in packet captures.
//!
//! The pipeline is the module tree: [`capture`] -> [`decode`] -> [`flow`]
//! -> [`app`] (TLS, HTTP/1.x via [`http`], DNS, text) -> [`extract`] ->
//! [`detect`] -> [`report`], with [`scan`] driving one capture end to end
//! and [`cli`] on top. Dependencies point
//! down the pipeline; [`finding`] is the only model `report` sees.
//! [`codec`] holds the decoders `http` and `extract` share.
//! [`util`] holds the small types every stage shares (timestamps, a hasher).
#![deny(unsafe_code)]

pub mod app;
pub mod baseline;
pub mod capture;
pub mod cli;
pub mod codec;
pub mod decode;
pub mod detect;
pub mod extract;
pub mod finding;
pub mod flow;
pub mod harness;
pub mod http;
pub mod report;
pub mod scan;
pub mod util;
