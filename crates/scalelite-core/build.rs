//! Rebuild when a migration is added: `sqlx::migrate!` embeds the migration directories at compile time but only
//! notices edits to files it already knows.

#[allow(clippy::print_stdout)]
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
