//! scalelite-recording-importer library.
