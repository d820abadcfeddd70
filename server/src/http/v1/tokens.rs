use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{created, ok};
use crate::app::AppState;
use crate::domain::{Role, TokenId};
use crate::http::{
    body::{Envelope, Enveloped},
    error::ApiError,
};
use crate::render::time::iso_ms;
use crate::store::{
    Actor,
    tokens::{self, Secret, Token},
};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct TokenBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: String,
    pub role: Option<Role>,
}

impl Enveloped for TokenBody {
    const KEY: &'static str = "api_token";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenDoc {
    pub id: TokenId,
    pub name: String,
    pub role: Role,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The key itself: present only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn doc(t: Token, key: Option<String>) -> TokenDoc {
    TokenDoc {
        id: t.id,
        name: t.name,
        role: t.role,
        prefix: t.prefix,
        created_at: iso_ms(t.created_at),
        last_used_at: t.last_used_at.map(iso_ms),
        revoked_at: t.revoked_at.map(iso_ms),
        key,
    }
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let all: Vec<TokenDoc> = tokens::list(state.store.db())
        .await?
        .into_iter()
        .map(|t| doc(t, None))
        .collect();
    Ok(ok(&all))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(body): Envelope<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let (token, secret) = issue(&state, &actor, body).await?;
    Ok(created(&doc(token, Some(secret.0))))
}

/// Creates a token as `POST .../api-tokens` does (a viewer's unless a role is given);
/// the secret is returned once. The console's token form comes here too.
pub(crate) async fn issue(
    state: &AppState,
    actor: &Actor,
    body: TokenBody,
) -> Result<(Token, Secret), ApiError> {
    let role = body.role.unwrap_or(Role::Viewer);
    super::write(state, actor, async |w| {
        tokens::issue(w, &body.name, role).await
    })
    .await
}

pub async fn revoke(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, token_id) = path.into_inner();
    let token = withdraw(&state, &actor, &token_id).await?;
    Ok(ok(&doc(token, None)))
}

/// Revokes a token as `DELETE .../api-tokens/{token_id}` does (never the last live
/// admin token, nor the token asking).
pub(crate) async fn withdraw(
    state: &AppState,
    actor: &Actor,
    token_id: &str,
) -> Result<Token, ApiError> {
    super::write(state, actor, async |w| tokens::withdraw(w, token_id).await).await
}
