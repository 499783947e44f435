//! The JSON shapes of servers and tenants, shared by the admin REST API and the CLI's `--json` output.
//!
//! They follow the original's admin API (`docs/compatibility.md#admin-api`) without its quirks
//! (`docs/compatibility.md#admin-api-servers`):
//! `load_multiplier` is always a JSON number, and tenants carry no `new_record`/`destroyed` flags.

use serde::Serialize;

use crate::domain::{Meeting, Server, Tenant, TenantSetting};
use crate::management::join_secrets;

/// A meeting and the server it runs on, as the admin API's `getMeetings` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MeetingJson {
    /// The meetingID.
    pub meeting_id: String,
    /// The id of the server the meeting runs on.
    pub server_id: String,
    /// That server's API base URL, `None` when the server record is gone.
    pub server_url: Option<String>,
}

impl MeetingJson {
    /// The meeting placed on `server` (`None`: its server record is gone).
    pub fn new(meeting: &Meeting, server: Option<&Server>) -> Self {
        Self {
            meeting_id: meeting.id.clone(),
            server_id: meeting.server_id.clone(),
            server_url: server.map(|s| s.url.clone()),
        }
    }
}

/// A server as `getServers`/`getServerInfo` show it. No `Debug`: it carries the secret.
#[derive(Clone, PartialEq, Serialize)]
pub struct ServerJson {
    /// The server id.
    pub id: String,
    /// The API base URL.
    pub url: String,
    /// The shared secret (the admin API is authenticated and shows it, as the original does).
    pub secret: String,
    /// The tag, `""` when none.
    pub tag: String,
    /// The BBB version the poller read, `""` when unknown.
    pub bbb_version: String,
    /// `enabled`, `cordoned` or `disabled`.
    pub state: &'static str,
    /// The load (a number), or the string `unavailable` when unknown.
    pub load: serde_json::Value,
    /// The load multiplier, always a number (the original sends a string unless unset).
    pub load_multiplier: f64,
    /// `online` or `offline`.
    pub online: &'static str,
}

impl From<&Server> for ServerJson {
    fn from(server: &Server) -> Self {
        Self {
            id: server.id.clone(),
            url: server.url.clone(),
            secret: server.secret.expose().to_owned(),
            tag: server.tag.clone().unwrap_or_default(),
            bbb_version: server.bbb_version.clone().unwrap_or_default(),
            state: server.state.as_str(),
            load: match server.load {
                Some(load) => serde_json::Value::from(load),
                None => serde_json::Value::from("unavailable"),
            },
            load_multiplier: server.load_multiplier,
            online: if server.online { "online" } else { "offline" },
        }
    }
}

/// A tenant in a list (`getTenants`): id, name and the `:`-separated secrets. No `Debug`: it carries the secrets.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TenantSummaryJson {
    /// The tenant id.
    pub id: String,
    /// The tenant name (the first DNS label of its host).
    pub name: String,
    /// `:`-separated secrets.
    pub secrets: String,
}

impl From<&Tenant> for TenantSummaryJson {
    fn from(tenant: &Tenant) -> Self {
        Self {
            id: tenant.id.clone(),
            name: tenant.name.clone(),
            secrets: join_secrets(&tenant.secrets),
        }
    }
}

/// A tenant with every stored field (`getTenantInfo`, `addTenant`, `updateTenant`); absent LRS and Keycloak
/// fields are left out, as the original does. No `Debug`: it carries secrets.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TenantJson {
    /// The tenant name.
    pub name: String,
    /// `:`-separated secrets.
    pub secrets: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lrs_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lrs_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lrs_password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kc_password: Option<String>,
    /// The tenant id.
    pub id: String,
}

impl From<&Tenant> for TenantJson {
    fn from(tenant: &Tenant) -> Self {
        let text = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let secret = |value: &Option<crate::domain::Secret>| {
            value
                .as_ref()
                .map(|s| s.expose().to_owned())
                .filter(|v| !v.is_empty())
        };
        Self {
            name: tenant.name.clone(),
            secrets: join_secrets(&tenant.secrets),
            lrs_endpoint: text(&tenant.lrs_endpoint),
            lrs_username: text(&tenant.lrs_username),
            lrs_password: secret(&tenant.lrs_password),
            kc_token_url: text(&tenant.kc_token_url),
            kc_client_id: text(&tenant.kc_client_id),
            kc_client_secret: secret(&tenant.kc_client_secret),
            kc_username: text(&tenant.kc_username),
            kc_password: secret(&tenant.kc_password),
            id: tenant.id.clone(),
        }
    }
}

/// A tenant setting (`tenantSettings --json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantSettingJson {
    /// The setting id.
    pub id: String,
    /// The create/join parameter.
    pub param: String,
    /// Its value.
    pub value: String,
    /// Whether it overrides the client's value.
    #[serde(rename = "override")]
    pub override_value: bool,
}

impl From<&TenantSetting> for TenantSettingJson {
    fn from(setting: &TenantSetting) -> Self {
        Self {
            id: setting.id.clone(),
            param: setting.param.clone(),
            value: setting.value.clone(),
            override_value: setting.override_value,
        }
    }
}
