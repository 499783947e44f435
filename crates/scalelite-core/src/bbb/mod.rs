//! The BBB API protocol, with no I/O: checksums, request parameters, outbound URLs and XML.

pub mod checksum;
pub mod params;
pub mod uri;
pub mod xml;
