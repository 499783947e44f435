//! scalelite-cli library.
