//! `scalelite-cli` run as a real process (`CARGO_BIN_EXE_scalelite-cli`) against both storage back-ends: output,
//! exit status, and what the store holds afterwards.

mod support;

/// Expand `async fn name(backend: Backend) { ... }` into a module with one test per storage back-end.
macro_rules! both_backends {
    ($(async fn $name:ident($backend:ident: Backend) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($backend: Backend) $body
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    run(Backend::Embedded).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn production() {
                    run(Backend::Production).await
                }
            }
        )*
    };
}

mod meetings;
mod misc;
mod servers;
mod sync;
mod tenants;
