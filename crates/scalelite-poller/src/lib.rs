//! scalelite-poller library.
