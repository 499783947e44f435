//! TODO(foundation): params
