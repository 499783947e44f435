//! Tests over real HTTP against fake servers on port 0.
