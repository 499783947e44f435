//! TODO(foundation): xml
