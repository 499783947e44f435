//! The request pipeline every BBB call goes through before its handler (`docs/compatibility.md#api-pipeline`): method
//! rules, Content-Type checks, tenant resolution, checksum verification.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, header};
use scalelite_core::bbb::params::{Params, RequestError, verify_request};
use scalelite_core::domain::{Secret, Tenant};
use scalelite_core::storage::{StoreError, TenantStore};

use crate::error::{ApiError, Result};
use crate::state::AppState;

/// Which Content-Types a call accepts in a non-empty POST body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// Form types only (most calls).
    Form,
    /// Form or XML (create: pre-uploaded slides).
    FormOrXml,
    /// XML only (insertDocument).
    Xml,
    /// Not checked (join, publish/deleteRecordings, analytics_callback).
    Unchecked,
}

/// A verified BBB API request, ready for its handler.
#[derive(Debug)]
pub struct BbbRequest {
    /// Parameters covered by the checksum, in the client's order.
    pub params: Params,
    /// The tenant, when multitenancy is on.
    pub tenant: Option<Tenant>,
    /// Raw body when it is an XML document (create, insertDocument).
    pub xml_body: Option<Bytes>,
    /// `scheme://host[:port]` of the request, for URLs the answer contains.
    pub url_prefix: String,
}

/// Facts of the HTTP request the pipeline needs.
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub raw_query: Option<&'a str>,
    pub body: Bytes,
}

/// Media type of the body, lower-cased, parameters after `;` dropped.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

fn is_form(media: &str) -> bool {
    media == "application/x-www-form-urlencoded" || media == "multipart/form-data"
}

fn is_xml(media: &str) -> bool {
    matches!(media, "application/xml" | "text/xml" | "application/x-xml")
}

/// The Content-Type rule of the call, for a POST with a non-empty body.
pub fn check_content_type(incoming: &Incoming<'_>, kind: BodyKind) -> Result<()> {
    if incoming.method != Method::POST || incoming.body.is_empty() || kind == BodyKind::Unchecked {
        return Ok(());
    }
    let media = media_type(incoming.headers).unwrap_or_default();
    let ok = match kind {
        BodyKind::Form => is_form(&media),
        BodyKind::FormOrXml => is_form(&media) || is_xml(&media),
        BodyKind::Xml => is_xml(&media),
        BodyKind::Unchecked => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedContentType)
    }
}

/// The host the client addressed: the last entry of X-Forwarded-Host when present, else Host; port removed.
pub fn request_host(headers: &HeaderMap) -> Option<String> {
    let forwarded = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let host = forwarded.or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))?;
    Some(strip_port(host).to_ascii_lowercase())
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port
        return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

/// `scheme://host[:port]` as the client sees us (X-Forwarded-Proto and X-Forwarded-Host honoured).
pub fn url_prefix(headers: &HeaderMap) -> String {
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| *v == "https" || *v == "http")
        .unwrap_or("http");
    let host = headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .unwrap_or("localhost");
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let host = host.strip_suffix(default_port).unwrap_or(host);
    format!("{scheme}://{host}")
}

/// Resolve the tenant from the host's first label (multitenancy only). An unknown tenant is a checksum error, as
/// in the original.
pub async fn resolve_tenant(state: &AppState, headers: &HeaderMap) -> Result<Option<Tenant>> {
    if !state.settings.multitenancy {
        return Ok(None);
    }
    let host = request_host(headers).ok_or(ApiError::Checksum)?;
    let name = host.split('.').next().unwrap_or_default();
    match state.store.get_tenant_by_name(name).await {
        Ok(tenant) => Ok(Some(tenant)),
        Err(StoreError::NotFound(_)) => Err(ApiError::Checksum),
        Err(e) => Err(e.into()),
    }
}

/// The whole pipeline for a checksummed call: Content-Type, tenant, checksum. Returns the verified request.
pub async fn verify(
    state: &AppState,
    call: &str,
    incoming: Incoming<'_>,
    kind: BodyKind,
) -> Result<BbbRequest> {
    check_content_type(&incoming, kind)?;
    let tenant = resolve_tenant(state, incoming.headers).await?;
    let media = media_type(incoming.headers).unwrap_or_default();
    let xml_body = (!incoming.body.is_empty() && is_xml(&media)).then(|| incoming.body.clone());
    let form_body =
        if incoming.method == Method::POST && media == "application/x-www-form-urlencoded" {
            Some(
                std::str::from_utf8(&incoming.body)
                    .map_err(|_| ApiError::InvalidParameters("body is not UTF-8".into()))?,
            )
        } else {
            None
        };
    let secrets: &[Secret] = match &tenant {
        Some(t) => &t.secrets,
        None => &state.settings.lb_secrets,
    };
    let params = verify_request(
        call,
        incoming.raw_query,
        form_body,
        secrets,
        &state.settings.checksum_algorithms,
    )
    .map_err(|e| match e {
        RequestError::Checksum(why) => {
            tracing::debug!(call, reason = %why, "checksum rejected");
            ApiError::Checksum
        }
        RequestError::Params(why) => ApiError::InvalidParameters(why.to_string()),
    })?;
    Ok(BbbRequest {
        params,
        tenant,
        xml_body,
        url_prefix: url_prefix(incoming.headers),
    })
}
