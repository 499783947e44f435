//! The command line: one subcommand per rake task of the original, with the same name and the same arguments as
//! separate words. Every positional argument is optional for clap and checked by the command itself, so a missing
//! one gives the original's one-line message instead of clap's usage text; an empty argument counts as not given
//! (rake semantics).

use clap::{Args, Parser, Subcommand};
use scalelite_core::config::{
    BbbClientArgs, LogArgs, MeetingArgs, PollerArgs, RecordingArgs, SecretsArgs, StorageArgs,
};

/// Scalelite operator commands: the original's rake tasks (`servers:add`, `status`, `tenants:add`, ...).
///
/// Arguments are separate words (`scalelite-cli servers:add URL SECRET`); the rake form `servers:add[URL,SECRET]`
/// works too. The store and the other settings come from the same environment variables as the services
/// (DATABASE_URL, REDIS_URL, REDIS_NAMESPACE, MULTITENANCY_ENABLED, ...), listed below with their flags.
#[derive(Parser, Debug)]
#[command(name = "scalelite-cli", version, max_term_width = 120)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten, next_help_heading = "Storage")]
    pub storage: StorageArgs,
    #[command(flatten, next_help_heading = "Secrets and multitenancy")]
    pub secrets: SecretsArgs,
    #[command(flatten, next_help_heading = "Calls to BBB servers")]
    pub bbb: BbbClientArgs,
    #[command(flatten, next_help_heading = "Meetings")]
    pub meetings: MeetingArgs,
    #[command(flatten, next_help_heading = "Poller")]
    pub poller: PollerArgs,
    #[command(flatten, next_help_heading = "Recordings")]
    pub recordings: RecordingArgs,
    #[command(flatten, next_help_heading = "Logging")]
    pub log: LogArgs,
}

/// Every task.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the configured BigBlueButton servers
    #[command(name = "servers")]
    Servers(JsonOutput),
    /// Add a BigBlueButton server (added disabled: enable it when it is ready)
    #[command(name = "servers:add")]
    ServersAdd(ServersAdd),
    /// Update the secret, load multiplier, tag or URL of a server
    #[command(name = "servers:update")]
    ServersUpdate(ServersUpdate),
    /// Remove a server (its meetings are not ended: panic it first)
    #[command(name = "servers:remove")]
    ServersRemove(ServerId),
    /// Make a server available for new meetings
    #[command(name = "servers:enable")]
    ServersEnable(ServerId),
    /// Stop placing new meetings on a server but keep its running meetings
    #[command(name = "servers:cordon")]
    ServersCordon(ServerId),
    /// Make a server unavailable; with meetings on it, asks before ending them
    #[command(name = "servers:disable")]
    ServersDisable(ServersDisable),
    /// End every meeting on a server and disable it; with MEETING_FAILOVER the meetings are kept for their next join
    /// (forgotten otherwise, or with KEEP_STATE)
    #[command(name = "servers:panic")]
    ServersPanic(ServersPanic),
    /// Set the load multiplier of a server
    #[command(name = "servers:loadMultiplier")]
    ServersLoadMultiplier(ServersLoadMultiplier),
    /// Set or remove the tag of a server
    #[command(name = "servers:tag")]
    ServersTag(ServersTag),
    /// Add the servers listed in a YAML file (deprecated: use servers:sync)
    #[command(name = "servers:addAll")]
    ServersAddAll(ServersAddAll),
    /// Bring the pool in line with a YAML file (see servers:yaml for the format)
    #[command(name = "servers:sync")]
    ServersSync(ServersSync),
    /// Print the pool as a YAML file servers:sync accepts
    #[command(name = "servers:yaml")]
    ServersYaml(ServersYaml),
    /// List the meetings each server reports
    #[command(name = "servers:meeting_list")]
    ServersMeetingList(ServersMeetingList),
    /// Table of every server: state, status, meetings, users, load, version, tag
    #[command(name = "status")]
    Status(JsonOutput),
    /// Run the poller until interrupted (one cycle every INTERVAL seconds)
    #[command(name = "poll")]
    Poll(Poll),
    /// Poll every server once: health, load, statistics, versions and ended meetings
    #[command(name = "poll:all", visible_aliases = ["poll:servers", "poll:meetings", "poll:versions"])]
    PollAll,
    /// List meetings with their servers (all, or the `:`-separated ids)
    #[command(name = "meetings", visible_alias = "meetings:list")]
    Meetings(MeetingIds),
    /// End meetings (all, or the `:`-separated ids); asks first
    #[command(name = "meetings:end")]
    MeetingsEnd(MeetingsEnd),
    /// Show what a meeting's server says about it
    #[command(name = "meetings:info")]
    MeetingsInfo(MeetingsInfo),
    /// List the tenants (needs MULTITENANCY_ENABLED)
    #[command(name = "tenants")]
    Tenants(JsonOutput),
    /// Add a tenant
    #[command(name = "tenants:add")]
    TenantsAdd(TenantsAdd),
    /// Change the name and/or secrets of a tenant
    #[command(name = "tenants:update")]
    TenantsUpdate(TenantsUpdate),
    /// Set a tenant's LRS endpoint with basic-auth credentials
    #[command(name = "tenants:update_lrs_basic")]
    TenantsUpdateLrsBasic(TenantsUpdateLrsBasic),
    /// Set a tenant's LRS endpoint with Keycloak credentials
    #[command(name = "tenants:update_lrs_kc")]
    TenantsUpdateLrsKc(TenantsUpdateLrsKc),
    /// Remove a tenant (and its settings)
    #[command(name = "tenants:remove")]
    TenantsRemove(TenantId),
    /// List every tenant's settings
    #[command(name = "tenantSettings")]
    TenantSettings(JsonOutput),
    /// Add a tenant setting: a default (or, with OVERRIDE, forced) create/join parameter
    #[command(name = "tenantSettings:add")]
    TenantSettingsAdd(TenantSettingsAdd),
    /// Remove a tenant setting
    #[command(name = "tenantSettings:remove")]
    TenantSettingsRemove(TenantSettingId),
    /// Import every recording archive waiting in the spool directory once (a progress line on a terminal)
    #[command(name = "recordings:import")]
    RecordingsImport,
    /// Move the files of unpublished recordings from the publish to the unpublish directory
    #[command(name = "recordings:update")]
    RecordingsUpdate,
    /// Give every recording without a tenant the tenant TENANT_ID
    #[command(name = "recordings:addToTenant")]
    RecordingsAddToTenant(TenantId),
    /// Print `success` (container liveness probe)
    #[command(name = "liveness")]
    Liveness,
    /// Create or upgrade the database schema (migrations run when the store opens)
    #[command(name = "db:migrate", visible_aliases = ["db:setup", "db:create", "db:schema:load"])]
    DbMigrate,
}

/// `--json` for listing commands.
#[derive(Args, Debug, Default)]
pub struct JsonOutput {
    /// Print JSON instead of the text listing
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ServerId {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ServersAdd {
    /// API URL, e.g. https://bbb1.example.com/bigbluebutton/api/ (the path is added when missing)
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// The server's shared secret (`bbb-conf --secret`)
    #[arg(value_name = "SECRET")]
    pub secret: Option<String>,
    /// Weight of one participant on this server (default 1; 0 means 1)
    #[arg(value_name = "LOAD_MULTIPLIER")]
    pub load_multiplier: Option<String>,
    /// Tag for tagged placement (meta_server-tag)
    #[arg(value_name = "TAG")]
    pub tag: Option<String>,
    /// Save without first checking that the URL and secret answer like a BBB API
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ServersUpdate {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// New secret (empty: unchanged)
    #[arg(value_name = "SECRET")]
    pub secret: Option<String>,
    /// New load multiplier (empty: unchanged; 0 means 1)
    #[arg(value_name = "LOAD_MULTIPLIER")]
    pub load_multiplier: Option<String>,
    /// New tag; given but empty removes the tag, left out keeps it
    #[arg(value_name = "TAG")]
    pub tag: Option<String>,
    /// New API URL (the /bigbluebutton/api/ path is added when missing)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With a new URL or secret, save without checking that they answer like a BBB API
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Args, Debug)]
pub struct ServersDisable {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Do not ask before ending the server's meetings
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct ServersPanic {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// true: keep the server's state instead of disabling it (true/false/yes/no/1/0)
    #[arg(value_name = "KEEP_STATE")]
    pub keep_state: Option<String>,
    /// true: forget the meetings without sending BBB `end` (true/false/yes/no/1/0)
    #[arg(value_name = "SKIP_END_CALLS")]
    pub skip_end_calls: Option<String>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ServersLoadMultiplier {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// The load multiplier (left out or 0: 1)
    #[arg(value_name = "LOAD_MULTIPLIER")]
    pub load_multiplier: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServersTag {
    /// The server id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// The tag (left out or empty: no tag)
    #[arg(value_name = "TAG")]
    pub tag: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServersAddAll {
    /// YAML file: `servers:` followed by a list of `url:`/`secret:` entries
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Save without checking that each server answers like a BBB API
    #[arg(long)]
    pub no_check: bool,
}

#[derive(Args, Debug)]
pub struct ServersSync {
    /// YAML file (`-` for standard input): `servers:` followed by id → url, secret, enabled, load_multiplier, tag
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// What to do with servers not in the file: keep, cordon (default: remove the empty ones, cordon the others)
    /// or force (end their meetings and remove them)
    #[arg(value_name = "MODE")]
    pub mode: Option<String>,
    /// true: only print what would change (true/false/yes/no/1/0)
    #[arg(value_name = "DRYRUN")]
    pub dryrun: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServersYaml {
    /// true: also print state, load, bbb_version and online (true/false/yes/no/1/0)
    #[arg(value_name = "VERBOSE")]
    pub verbose: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServersMeetingList {
    /// `:`-separated server ids (default: every server)
    #[arg(value_name = "SERVER_IDS")]
    pub server_ids: Option<String>,
    /// Print JSON instead of the text listing
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct Poll {
    /// Seconds between cycles (default: POLL_INTERVAL)
    #[arg(value_name = "INTERVAL")]
    pub interval: Option<String>,
}

#[derive(Args, Debug)]
pub struct MeetingIds {
    /// `:`-separated meeting ids (default: every meeting)
    #[arg(value_name = "MEETING_IDS")]
    pub meeting_ids: Option<String>,
    /// Print JSON instead of the text listing
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MeetingsEnd {
    /// `:`-separated meeting ids (default: every meeting)
    #[arg(value_name = "MEETING_IDS")]
    pub meeting_ids: Option<String>,
    /// Do not ask first
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct MeetingsInfo {
    /// The meeting id
    #[arg(value_name = "MEETING_ID")]
    pub meeting_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantId {
    /// The tenant id
    #[arg(value_name = "TENANT_ID")]
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantsAdd {
    /// The tenant name: the first label of its host name (tenant1 for tenant1.scalelite.example.com)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Its secrets, `:`-separated
    #[arg(value_name = "SECRETS")]
    pub secrets: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantsUpdate {
    /// The tenant id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// New name (empty: unchanged)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// New `:`-separated secrets (empty: unchanged)
    #[arg(value_name = "SECRETS")]
    pub secrets: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantsUpdateLrsBasic {
    /// The tenant id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// LRS endpoint URL
    #[arg(value_name = "LRS_ENDPOINT")]
    pub lrs_endpoint: Option<String>,
    /// LRS user name
    #[arg(value_name = "LRS_USERNAME")]
    pub lrs_username: Option<String>,
    /// LRS password
    #[arg(value_name = "LRS_PASSWORD")]
    pub lrs_password: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantsUpdateLrsKc {
    /// The tenant id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// LRS endpoint URL
    #[arg(value_name = "LRS_ENDPOINT")]
    pub lrs_endpoint: Option<String>,
    /// Keycloak token URL
    #[arg(value_name = "KC_TOKEN_URL")]
    pub kc_token_url: Option<String>,
    /// Keycloak client id
    #[arg(value_name = "KC_CLIENT_ID")]
    pub kc_client_id: Option<String>,
    /// Keycloak client secret
    #[arg(value_name = "KC_CLIENT_SECRET")]
    pub kc_client_secret: Option<String>,
    /// Keycloak user name
    #[arg(value_name = "KC_USERNAME")]
    pub kc_username: Option<String>,
    /// Keycloak password
    #[arg(value_name = "KC_PASSWORD")]
    pub kc_password: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantSettingsAdd {
    /// The tenant id
    #[arg(value_name = "TENANT_ID")]
    pub tenant_id: Option<String>,
    /// The create/join parameter, e.g. `record` or `meta_foo`
    #[arg(value_name = "PARAM")]
    pub param: Option<String>,
    /// Its value
    #[arg(value_name = "VALUE")]
    pub value: Option<String>,
    /// true: force the value over the client's; false: only a default (true/false/yes/no/1/0)
    #[arg(value_name = "OVERRIDE")]
    pub override_value: Option<String>,
}

#[derive(Args, Debug)]
pub struct TenantSettingId {
    /// The tenant setting id
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}
