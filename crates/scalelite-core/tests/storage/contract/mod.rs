//! The back-end independent cases and the macro that runs them.
//!
//! A back-end plugs in with `contract_suite!(make_store);` inside a module of its own, where `make_store` is an
//! `async fn() -> (S, G)`: `S` a fresh, isolated store, `G` anything that must stay alive while the test runs
//! (a temporary directory, a database dropped on `Drop`, ...). Every case is `pub async fn case<S: Store>(s: &S)`.

pub mod meetings;
pub mod misc;
pub mod placements;
pub mod recordings;
pub mod servers;
pub mod tenants;

use std::time::Duration;

use scalelite_core::domain::{NewServer, Secret, Server, ServerPatch, ServerState};
use scalelite_core::storage::{
    MeetingStore, MiscStore, RecordingStore, ServerStore, StoreError, TenantStore,
};

/// Everything a case needs from a back-end. `Clone + 'static` so that cases can hit one store from many tasks.
pub trait Store:
    ServerStore + MeetingStore + TenantStore + RecordingStore + MiscStore + Clone + 'static
{
}

impl<T> Store for T where
    T: ServerStore + MeetingStore + TenantStore + RecordingStore + MiscStore + Clone + 'static
{
}

/// A case that has not finished by then is stuck (a deadlock, a lost wake-up); fail instead of hanging CI.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// A TTL that outlives the set-up steps of a case on a loaded 2-core machine (records given it must still be there
/// when the case refreshes or renews them), and a wait well past it (1.5 s of margin, so Redis' second-rounded
/// expiry has passed too). These test expiry; they do not measure time.
pub const SHORT_TTL: Duration = Duration::from_secs(3);
pub const PAST_SHORT_TTL: Duration = Duration::from_millis(4500);
pub const LONG_TTL: Duration = Duration::from_secs(3600);

/// Expand one `#[tokio::test]` per contract case, each on a fresh store from `$make`.
macro_rules! contract_suite {
    ($make:path) => {
        $crate::contract::contract_suite!(@cases $make;
            servers::servers_add_get_list,
            servers::servers_patch_fields,
            servers::servers_state_changes_carry_load,
            servers::servers_available_order,
            servers::servers_increment_load,
            servers::servers_concurrent_increment_load,
            servers::servers_increment_load_behind,
            servers::servers_health_counters,
            servers::servers_delete,
            servers::select_lowest_load_and_bump,
            servers::select_no_servers,
            servers::select_untagged_requests,
            servers::select_tagged_requests,
            servers::select_concurrent_is_exact,
            meetings::meetings_find_or_create,
            meetings::meetings_tenant_conflict,
            meetings::meetings_voice_bridges,
            meetings::meetings_delete,
            meetings::meetings_concurrent_same_id,
            meetings::meetings_concurrent_distinct_voice_bridges,
            meetings::meetings_ttl_refresh_and_orphans,
            placements::placement_claim_and_confirm,
            placements::placement_move_and_release_by_token,
            placements::placement_rollback_spares_the_new_owner,
            placements::placement_claim_lapses,
            placements::placement_concurrent_claims_one_winner,
            placements::abandoned_placements,
            placements::placement_take_over_for_failover,
            placements::placement_concurrent_take_over_one_winner,
            placements::create_params_live_with_the_meeting,
            placements::placement_meeting_with_server,
            placements::placement_confirm_with_params,
            placements::placement_place_meeting_bumps_only_when_created,
            placements::placement_concurrent_placements_balance,
            tenants::tenants_crud,
            tenants::tenants_name_index_takeover,
            tenants::tenant_settings,
            recordings::recordings_upsert_get,
            recordings::recordings_find_filters,
            recordings::recordings_find_pagination,
            recordings::recordings_updates,
            recordings::recordings_mark_deleted,
            recordings::callback_data,
            recordings::callback_urls_cleared_by_a_create_without_them,
            recordings::callback_urls_mark_read_with_the_meeting,
            recordings::recordings_reimport_keeps_publish_change,
            recordings::recordings_update_is_one_transaction,
            recordings::recordings_import_links_callback_data,
            recordings::recordings_lock_serialises_changes,
            misc::playback_tokens_one_time,
            misc::playback_tokens_expire,
            misc::leases_exclusive,
            misc::leases_expire,
            misc::health_check,
            misc::missing_meeting_marks,
        );
    };
    (@cases $make:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $make().await;
                let run = $crate::contract::$module::$case(&store);
                if tokio::time::timeout($crate::contract::CASE_TIMEOUT, run).await.is_err() {
                    panic!("{} did not finish within {:?}", stringify!($case), $crate::contract::CASE_TIMEOUT);
                }
            }
        )*
    };
}

pub(crate) use contract_suite;

/// A new enabled server with multiplier 1 and no tag.
pub fn new_server(id: &str) -> NewServer {
    NewServer {
        id: id.to_owned(),
        url: format!("https://{id}.example.com/bigbluebutton/api/"),
        secret: Secret::new(format!("secret-{id}")),
        tag: None,
        state: ServerState::Enabled,
        load_multiplier: 1.0,
    }
}

/// Add an enabled server with `tag` and give it `load`, so it is available.
pub async fn add_available<S: Store>(s: &S, id: &str, tag: Option<&str>, load: f64) -> Server {
    s.add_server(NewServer {
        tag: tag.map(str::to_owned),
        ..new_server(id)
    })
    .await
    .expect("add server");
    set_load(s, id, Some(load)).await
}

/// Write a server's load.
pub async fn set_load<S: Store>(s: &S, id: &str, load: Option<f64>) -> Server {
    s.patch_server(
        id,
        ServerPatch {
            load: Some(load),
            ..ServerPatch::default()
        },
    )
    .await
    .expect("patch load")
}

/// Ids of servers, in the given order.
pub fn ids(servers: &[Server]) -> Vec<&str> {
    servers.iter().map(|s| s.id.as_str()).collect()
}

/// Panic unless `result` is `NotFound`.
#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Panic unless `result` is `Conflict`.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}
