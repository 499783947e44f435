//! Configuration contract of `scalelite-cli`: each `contract_<variable>` sets that one variable in the environment
//! of the real binary and observes its effect from outside (what the store holds afterwards).

use std::path::Path;
use std::time::Duration;

use scalelite_core::storage::ServerStore;
use scalelite_testkit::contract::with_env;
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-cli");

#[tokio::test]
async fn contract_server_id_is_hostname() {
    let store = test_store(Backend::Embedded).await;
    let env = with_env(store.env(), &[("SERVER_ID_IS_HOSTNAME", "true")]);
    let mut cli = Service::spawn(
        Path::new(BIN),
        &[
            "servers:add",
            "--no-check",
            "https://BBB-7.Example.com/bigbluebutton/api/",
            "bbb-secret",
        ],
        &env,
    );
    let status = cli.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {}",
        cli.log()
    );
    let servers = store.store.list_servers().await.unwrap();
    let ids: Vec<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["bbb-7.example.com"]);
}
