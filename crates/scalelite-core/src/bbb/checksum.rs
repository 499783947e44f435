//! TODO(foundation): checksum
