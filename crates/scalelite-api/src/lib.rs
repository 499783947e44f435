//! scalelite-api library.
