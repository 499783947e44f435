//! TODO(foundation): uri
