//! `servers:sync` (bring the pool in line with a YAML file), `servers:yaml` (dump the pool in that format) and the
//! deprecated `servers:addAll` (`docs/compatibility.md#cli-sync`).
//!
//! The file is `servers:` → a mapping of server id → `{url, secret, enabled, load_multiplier, tag}`. Every entry is
//! checked before anything changes. Differences from the original: `enabled` must be a boolean (a `"false"` string
//! no longer counts as true), `force` really sends BBB `end` for the meetings it removes, and a dry run never fails
//! on a server it would have emptied.

use std::collections::HashSet;

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use crate::domain::{NewServer, Secret, Server, ServerPatch, ServerState};
use crate::management::{Management, ManagementError, Result, format_number, parse_bool};
use crate::storage::{ServerStore, StoreError};

/// What `servers:sync` does with servers that are not in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// Leave them alone.
    Keep,
    /// Remove the empty ones, cordon the others (run again once they have drained).
    Cordon,
    /// Remove them all, ending their meetings first.
    Force,
}

impl SyncMode {
    /// `keep`, `cordon` or `force`; absent or blank means `cordon`.
    ///
    /// # Errors
    /// [`ManagementError::Sync`] with the original's message for anything else.
    pub fn parse(value: Option<&str>) -> Result<SyncMode> {
        match value.map(str::trim).unwrap_or_default() {
            "" | "cordon" => Ok(SyncMode::Cordon),
            "keep" => Ok(SyncMode::Keep),
            "force" => Ok(SyncMode::Force),
            other => Err(ManagementError::Sync(format!(
                "Unknown sync mode '{other}' (choose: keep cordon force)"
            ))),
        }
    }
}

/// One server as the file wants it, defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredServer {
    /// The server id (letters, digits, `_`, `.`, `-`).
    pub id: String,
    /// Default `https://<id>/bigbluebutton/api`.
    pub url: String,
    /// Required.
    pub secret: Secret,
    /// Default true.
    pub enabled: bool,
    /// Default 1.0; must be positive.
    pub load_multiplier: f64,
    /// Blank means none.
    pub tag: Option<String>,
}

const SERVER_PARAMS: [&str; 5] = ["url", "secret", "enabled", "load_multiplier", "tag"];
const IGNORED_PARAMS: [&str; 4] = ["load", "state", "bbb_version", "online"];

fn sync_error(message: impl Into<String>) -> ManagementError {
    ManagementError::Sync(message.into())
}

/// A YAML scalar as text (`None` for null; sequences and mappings are not scalars).
fn scalar(value: &Value) -> Option<Option<String>> {
    match value {
        Value::Null => Some(None),
        Value::Bool(b) => Some(Some(b.to_string())),
        Value::Number(n) => Some(Some(n.to_string())),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Parse and check a `servers:sync` document. Nothing is changed by this; it is the "validate everything first"
/// half of the sync.
///
/// # Errors
/// [`ManagementError::Sync`] with the original's message for the first problem found.
pub fn parse_sync_document(text: &str) -> Result<Vec<DesiredServer>> {
    let document: Value = serde_yaml_ng::from_str(text)
        .map_err(|e| sync_error(format!("Invalid YAML document: {e}")))?;
    let Value::Mapping(document) = document else {
        return Err(sync_error("Invalid YAML document"));
    };
    let Some(Value::Mapping(servers)) = document.get("servers") else {
        return Err(sync_error("Servers parameter not a hash"));
    };
    let mut desired = Vec::with_capacity(servers.len());
    for (key, params) in servers {
        let id = match scalar(key) {
            Some(Some(id)) => id,
            _ => {
                return Err(sync_error(
                    "Server id=(not text) contains invalid characters",
                ));
            }
        };
        desired.push(parse_entry(&id, params)?);
    }
    Ok(desired)
}

fn parse_entry(id: &str, params: &Value) -> Result<DesiredServer> {
    let empty = Mapping::new();
    let params = match params {
        Value::Mapping(m) => m,
        Value::Null => &empty,
        _ => {
            return Err(sync_error(format!(
                "Server id={id} parameters are not a hash"
            )));
        }
    };
    let field = |name: &str| -> Result<Option<String>> {
        match params.get(name) {
            None => Ok(None),
            Some(value) => scalar(value)
                .ok_or_else(|| sync_error(format!("Server id={id} has invalid {name}"))),
        }
    };
    if !is_valid_id(id) {
        return Err(sync_error(format!(
            "Server id={id} contains invalid characters"
        )));
    }
    let secret = field("secret")?.filter(|s| !s.trim().is_empty());
    let Some(secret) = secret else {
        return Err(sync_error(format!("Server id={id} has no secret")));
    };
    let bad: Vec<String> = params
        .keys()
        .map(|k| scalar(k).flatten().unwrap_or_else(|| format!("{k:?}")))
        .filter(|k| !SERVER_PARAMS.contains(&k.as_str()) && !IGNORED_PARAMS.contains(&k.as_str()))
        .collect();
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(|k| format!("{k:?}")).collect();
        return Err(sync_error(format!(
            "Server id={id} has bad parameters: [{}]",
            list.join(", ")
        )));
    }
    let load_multiplier = match field("load_multiplier")? {
        None => 1.0,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(m) if m.is_finite() && m > 0.0 => m,
            _ => {
                return Err(sync_error(format!(
                    "Server id={id} has invalid load_multiplier={text}"
                )));
            }
        },
    };
    let url = field("url")?.unwrap_or_else(|| format!("https://{id}/bigbluebutton/api"));
    if !valid_http_url(&url) {
        return Err(sync_error(format!("Server id={id} has invalid url={url}")));
    }
    let enabled = match field("enabled")? {
        None => true,
        Some(text) => parse_bool("enabled", &text)
            .map_err(|_| sync_error(format!("Server id={id} has invalid enabled={text}")))?,
    };
    let tag = field("tag")?.filter(|t| !t.trim().is_empty());
    Ok(DesiredServer {
        id: id.to_owned(),
        url,
        secret: Secret::new(secret),
        enabled,
        load_multiplier,
        tag,
    })
}

/// One server of the `servers:yaml` dump, in the original's key order.
#[derive(Serialize)]
struct DumpEntry {
    url: String,
    secret: String,
    load_multiplier: f64,
    tag: String,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    load: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bbb_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    online: Option<bool>,
}

/// The `servers:yaml` document for `servers` (in the order given): `---`, then `servers:` → id → fields. Verbose
/// adds `state`, `load` (-1.0 when unknown), `bbb_version` and `online`, which `servers:sync` ignores.
pub fn dump_servers(servers: &[Server], verbose: bool) -> Result<String> {
    let mut map = Mapping::new();
    for server in servers {
        let entry = DumpEntry {
            url: server.url.clone(),
            secret: server.secret.expose().to_owned(),
            load_multiplier: server.load_multiplier,
            tag: server.tag.clone().unwrap_or_default(),
            enabled: server.state == ServerState::Enabled,
            state: verbose.then(|| server.state.as_str()),
            load: verbose.then(|| server.load.unwrap_or(-1.0)),
            bbb_version: verbose.then(|| server.bbb_version.clone().unwrap_or_default()),
            online: verbose.then_some(server.online),
        };
        let value = serde_yaml_ng::to_value(entry)
            .map_err(|e| sync_error(format!("cannot write YAML: {e}")))?;
        map.insert(Value::String(server.id.clone()), value);
    }
    let mut top = Mapping::new();
    top.insert(Value::String("servers".to_owned()), Value::Mapping(map));
    let body = serde_yaml_ng::to_string(&Value::Mapping(top))
        .map_err(|e| sync_error(format!("cannot write YAML: {e}")))?;
    Ok(format!("---\n{body}"))
}

/// A server to add from the deprecated `servers:addAll` file (`servers:` → a list of `{url, secret}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedServer {
    /// The API base URL.
    pub url: String,
    /// The shared secret.
    pub secret: Secret,
}

/// Parse a `servers:addAll` document.
///
/// # Errors
/// [`ManagementError::Invalid`] when it is not a `servers:` list of entries with a URL and a secret.
pub fn parse_server_list(text: &str) -> Result<Vec<ListedServer>> {
    let invalid = |why: &str| ManagementError::Invalid(format!("invalid server list: {why}"));
    let document: Value =
        serde_yaml_ng::from_str(text).map_err(|e| invalid(&format!("not YAML ({e})")))?;
    let Some(Value::Sequence(items)) = document.get("servers") else {
        return Err(invalid("expected `servers:` followed by a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let text = |name: &str| {
                item.get(name)
                    .and_then(scalar)
                    .flatten()
                    .filter(|v| !v.trim().is_empty())
            };
            match (text("url"), text("secret")) {
                (Some(url), Some(secret)) => Ok(ListedServer {
                    url,
                    secret: Secret::new(secret),
                }),
                _ => Err(invalid(&format!(
                    "entry {} needs a url and a secret",
                    i + 1
                ))),
            }
        })
        .collect()
}

impl Management {
    /// `servers:sync`: create and update the servers of `desired`, then deal with the others according to `mode`.
    /// Each step is reported to `log` as a line `[<id>] ...` (the original's log lines) as it happens. A dry run
    /// reports the same lines and changes nothing.
    ///
    /// # Errors
    /// [`ManagementError::Sync`] when a server still has meetings after `force` ended them (a create raced the
    /// sync); store failures.
    pub async fn sync_servers(
        &self,
        desired: &[DesiredServer],
        mode: SyncMode,
        dryrun: bool,
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<()> {
        for want in desired {
            self.sync_one(want, dryrun, log).await?;
        }
        let wanted: HashSet<&str> = desired.iter().map(|d| d.id.as_str()).collect();
        for server in self.list_servers().await? {
            if wanted.contains(server.id.as_str()) {
                continue;
            }
            self.retire(&server, mode, dryrun, log).await?;
        }
        Ok(())
    }

    async fn sync_one(
        &self,
        want: &DesiredServer,
        dryrun: bool,
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<()> {
        let id = &want.id;
        let server = match self.store.get_server(id).await {
            Ok(server) => server,
            Err(StoreError::NotFound(_)) => {
                log(format!("[{id}] Server created"));
                if dryrun {
                    return Ok(());
                }
                self.store
                    .add_server(NewServer {
                        id: id.clone(),
                        url: want.url.clone(),
                        secret: want.secret.clone(),
                        tag: want.tag.clone(),
                        state: ServerState::Disabled,
                        load_multiplier: want.load_multiplier,
                    })
                    .await?
            }
            Err(e) => return Err(e.into()),
        };
        let mut patch = ServerPatch::default();
        if server.url != want.url {
            patch.url = Some(want.url.clone());
            log(format!("[{id}] Server updated: url={}", want.url));
        }
        if server.secret != want.secret {
            patch.secret = Some(want.secret.clone());
            log(format!("[{id}] Server updated: secret=*****"));
        }
        if server.load_multiplier != want.load_multiplier {
            patch.load_multiplier = Some(want.load_multiplier);
            log(format!(
                "[{id}] Server updated: load_multiplier={}",
                format_number(want.load_multiplier)
            ));
        }
        if server.tag != want.tag {
            patch.tag = Some(want.tag.clone());
            log(format!(
                "[{id}] Server updated: tag={}",
                want.tag.as_deref().unwrap_or_default()
            ));
        }
        let enabled = server.state == ServerState::Enabled;
        if want.enabled && !enabled {
            patch.state = Some(ServerState::Enabled);
            log(format!("[{id}] Server enabled"));
        } else if !want.enabled && enabled {
            patch.state = Some(ServerState::Cordoned);
            log(format!("[{id}] Server disabled (cordoned)"));
        }
        if patch != ServerPatch::default() && !dryrun {
            self.store.patch_server(id, patch).await?;
        }
        Ok(())
    }

    /// A server that is not in the file.
    async fn retire(
        &self,
        server: &Server,
        mode: SyncMode,
        dryrun: bool,
        log: &mut (dyn FnMut(String) + Send),
    ) -> Result<()> {
        let id = &server.id;
        if mode == SyncMode::Keep {
            log(format!("[{id}] Server not removed"));
            return Ok(());
        }
        let meetings = self.meetings_on(id).await?;
        if meetings.is_empty() {
            if !dryrun {
                self.remove_server(id).await?;
            }
            log(format!("[{id}] Server removed"));
            return Ok(());
        }
        if server.state == ServerState::Enabled {
            if !dryrun {
                self.set_server_state(id, ServerState::Cordoned).await?;
            }
            log(format!("[{id}] Server not empty. Cordoned for removal"));
        }
        if mode == SyncMode::Cordon {
            return Ok(());
        }
        log(format!("[{id}] Server not empty. Ending meetings now..."));
        if dryrun {
            for meeting in &meetings {
                log(format!("[{id}] Try to end meeting id={}", meeting.id));
            }
        } else {
            for cleared in self.clear_meetings(server, meetings, true).await? {
                log(format!("[{id}] Try to end meeting id={}", cleared.id));
                if let Some(error) = cleared.end_error {
                    log(format!(
                        "[{id}] Failed to end meeting id={}: {error}",
                        cleared.id
                    ));
                }
            }
            // A create may have placed a meeting here while we were busy.
            if !self.meetings_on(id).await?.is_empty() {
                return Err(sync_error(format!("[{id}] Server still not empty!")));
            }
            self.remove_server(id).await?;
        }
        log(format!("[{id}] Server removed"));
        Ok(())
    }

    /// `servers:yaml`: every server (sorted by id) as a `servers:sync` document; see [`dump_servers`].
    pub async fn servers_yaml(&self, verbose: bool) -> Result<String> {
        dump_servers(&self.list_servers().await?, verbose)
    }
}

#[cfg(test)]
mod tests;
