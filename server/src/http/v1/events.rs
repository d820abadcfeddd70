use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ok;
use crate::app::AppState;
use crate::http::error::ApiError;
use crate::render::time::iso_ms;
use crate::store::{audit, events};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EventQuery {
    /// Only events with a larger sequence number.
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    after: Option<i64>,
    #[schemars(range(max = u64::MAX))]
    limit: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EventDoc {
    /// Position in the log; strictly increasing.
    pub seq: i64,
    pub kind: String,
    pub subject_type: String,
    pub subject_id: String,
    pub payload: serde_json::Value,
    pub created_at: String,
}

pub async fn list(
    state: web::Data<AppState>,
    q: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let all: Vec<EventDoc> = events::list_after(state.store.db(), q.after.unwrap_or(0), limit)
        .await?
        .into_iter()
        .map(|e| EventDoc {
            seq: e.seq,
            kind: e.kind,
            subject_type: e.subject_type,
            subject_id: e.subject_id,
            payload: e.payload,
            created_at: iso_ms(e.created_at),
        })
        .collect();
    Ok(ok(&all))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AuditQuery {
    /// Only entries with a smaller id.
    #[schemars(range(min = i64::MIN, max = i64::MAX))]
    before: Option<i64>,
    #[schemars(range(max = u64::MAX))]
    limit: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditDoc {
    pub id: i64,
    pub at: String,
    pub token_id: Option<crate::domain::TokenId>,
    pub actor: String,
    /// The client's address (through trusted proxies).
    pub client_addr: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub detail: serde_json::Value,
}

/// The audit log's parameters (and `api_key`, which authenticates).
const AUDIT_PARAMS: &[&str] = &["before", "limit", "api_key"];

pub async fn audit(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    // A filter Herald does not know is refused, not ignored: an audit read that
    // silently returned everything would look like an answer to the question asked.
    if let Some((name, _)) = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| !AUDIT_PARAMS.contains(&k.as_ref()))
    {
        let name: String = name.chars().take(64).collect();
        return Err(ApiError::Invalid {
            code: "unknown_parameter",
            message: format!(
                "the audit log has no parameter '{name}': it takes before (an entry id) and limit"
            ),
            field: Some(name),
        });
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let all: Vec<AuditDoc> = audit::list(state.store.db(), q.before, limit)
        .await?
        .into_iter()
        .map(|a| AuditDoc {
            id: a.id,
            at: iso_ms(a.at),
            token_id: a.token_id,
            actor: a.actor,
            client_addr: a.client_addr,
            action: a.action,
            subject_type: a.subject_type,
            subject_id: a.subject_id,
            detail: a.detail,
        })
        .collect();
    Ok(ok(&all))
}
