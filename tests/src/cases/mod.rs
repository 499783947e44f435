//! The end-to-end cases, one module per area.

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

mod admin_api;
mod api_callbacks;
mod api_fsapi;
mod api_meetings;
mod api_metrics;
mod api_routing;
mod api_shutdown;
mod api_tenants;
mod deployment;
mod docs;
mod importer;
mod playback;
mod poller;
mod recordings;
mod reliability;
mod s3;
mod services;
