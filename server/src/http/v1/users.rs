//! Console users (Herald's addition, in the Statuspage style): people who sign in at
//! `/admin` with a role. Creating one mails them a one-time link to choose a password;
//! the link itself is never in an answer.

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, created, ok, write};
use crate::app::AppState;
use crate::domain::{Role, Role::Admin, UserId, user::Purpose};
use crate::http::{
    body::{Change, Envelope, Enveloped},
    error::ApiError,
    lenient,
    routes::RouteTable,
};
use crate::store::{
    Actor,
    users::{self, NewUser, User, UserChanges},
};

pub fn routes(t: &mut RouteTable) {
    use Method as M;
    let base = "/v1/pages/{page_id}/users";
    let one = "/v1/pages/{page_id}/users/{user_id}";
    let tag = "users";
    t.add(M::GET, base, Admin, tag, "List console users", list)
        .returns_list::<UserDoc>();
    t.add(
        M::POST,
        base,
        Admin,
        tag,
        "Create a console user and mail them a one-time link to choose a password",
        create,
    )
    .created()
    .requires(&["email"])
    .body::<UserBody>()
    .returns::<UserDoc>();
    t.add(M::GET, one, Admin, tag, "Get a console user", get)
        .returns::<UserDoc>();
    for m in [M::PATCH, M::PUT] {
        t.add(
            m,
            one,
            Admin,
            tag,
            "Update a console user (email, name, role, disabled); a new role or disabling ends their sessions",
            update,
        )
        .body::<UserBody>()
        .returns::<UserDoc>();
    }
    t.add(
        M::DELETE,
        one,
        Admin,
        tag,
        "Delete a console user (never the last enabled admin)",
        delete,
    )
    .returns::<UserDoc>();
    t.add(
        M::POST,
        "/v1/pages/{page_id}/users/{user_id}/sign_in_link",
        Admin,
        tag,
        "Mail the user a new one-time sign-in link (to choose a new password)",
        send_link,
    )
    .accepted()
    .returns::<UserDoc>();
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserBody {
    /// Their address: where links go, and their sign-in name.
    #[schemars(length(min = 3, max = 254))]
    pub email: Option<String>,
    /// How the console and the audit log name them (default: the address).
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    /// viewer (the default), responder or admin: the roles API tokens have.
    pub role: Option<Role>,
    /// A disabled user cannot sign in; their sessions end.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schemars(with = "Option<lenient::Bool>")]
    pub disabled: Option<bool>,
}

impl Enveloped for UserBody {
    const KEY: &'static str = "user";
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserDoc {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `invited` (no password yet), `active` or `disabled`.
    pub state: &'static str,
    pub created_at: String,
    pub updated_at: String,
    pub disabled_at: Option<String>,
}

fn doc(view: &View, u: User) -> UserDoc {
    UserDoc {
        state: match (u.disabled_at.is_some(), u.has_password) {
            (true, _) => "disabled",
            (false, true) => "active",
            (false, false) => "invited",
        },
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        created_at: view.ctx.ts(u.created_at),
        updated_at: view.ctx.ts(u.updated_at),
        disabled_at: view.ctx.ts_opt(u.disabled_at),
    }
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    let all = users::list(state.store.db(), state.store.page_id()).await?;
    Ok(ok(&all
        .into_iter()
        .map(|u| doc(&view, u))
        .collect::<Vec<_>>()))
}

pub async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(b): Envelope<UserBody>,
) -> Result<HttpResponse, ApiError> {
    let u = invite(&state, &actor, b).await?;
    let view = View::load(&state).await?;
    Ok(created(&doc(&view, u)))
}

/// Creates a user as `POST .../users` does and asks for their invitation to be mailed
/// (a disabled one is not invited). Errors name the body's fields (`user.email`). The
/// console's invitation form comes here too.
pub(crate) async fn invite(state: &AppState, actor: &Actor, b: UserBody) -> Result<User, ApiError> {
    let Some(email) = b.email else {
        return Err(ApiError::invalid("user.email", "user.email is required"));
    };
    let new = NewUser {
        email,
        name: b.name,
        role: b.role.unwrap_or(Role::Viewer),
    };
    let disabled = b.disabled == Some(true);
    write(state, actor, async |w| {
        let u = users::create(w, new).await?;
        if disabled {
            return users::update(
                w,
                &u.id,
                UserChanges {
                    disabled: Some(true),
                    ..UserChanges::default()
                },
            )
            .await;
        }
        users::request_link(w, &u.id, Purpose::Invite).await?;
        Ok(u)
    })
    .await
    .map_err(|e| e.in_body("user"))
}

type One = web::Path<(String, String)>;

pub async fn get(state: web::Data<AppState>, path: One) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let u = users::get(state.store.db(), &UserId::from(id)).await?;
    let view = View::load(&state).await?;
    Ok(ok(&doc(&view, u)))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
    Change(b): Change<UserBody>,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let id = UserId::from(id);
    let view = View::load(&state).await?;
    let Some(b) = b else {
        let u = users::get(state.store.db(), &id).await?;
        return Ok(ok(&doc(&view, u)));
    };
    let u = change(&state, &actor, &id, b).await?;
    Ok(ok(&doc(&view, u)))
}

/// Changes a user as `PATCH .../users/{user_id}` does (a new role or disabling ends
/// their sessions; the last admin keeps their role).
pub(crate) async fn change(
    state: &AppState,
    actor: &Actor,
    id: &UserId,
    b: UserBody,
) -> Result<User, ApiError> {
    let c = UserChanges {
        email: b.email,
        name: b.name,
        role: b.role,
        disabled: b.disabled,
    };
    write(state, actor, async |w| users::update(w, id, c).await)
        .await
        .map_err(|e| e.in_body("user"))
}

pub async fn delete(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let id = UserId::from(id);
    let view = View::load(&state).await?;
    let u = remove(&state, &actor, &id).await?;
    Ok(ok(&doc(&view, u)))
}

/// Deletes a user as `DELETE .../users/{user_id}` does: their sessions and links end;
/// the last admin stays.
pub(crate) async fn remove(state: &AppState, actor: &Actor, id: &UserId) -> Result<User, ApiError> {
    write(state, actor, async |w| users::delete(w, id).await).await
}

pub async fn send_link(
    state: web::Data<AppState>,
    actor: Actor,
    path: One,
) -> Result<HttpResponse, ApiError> {
    let (_, id) = path.into_inner();
    let id = UserId::from(id);
    let (u, _) = mail_link(&state, &actor, &id).await?;
    let view = View::load(&state).await?;
    Ok(HttpResponse::Accepted().json(doc(&view, u)))
}

/// Asks for a new one-time link to be mailed as `POST .../sign_in_link` does: a reset
/// for a person with a password, else the invitation again. A disabled person gets none.
pub(crate) async fn mail_link(
    state: &AppState,
    actor: &Actor,
    id: &UserId,
) -> Result<(User, Purpose), ApiError> {
    let u = users::get(state.store.db(), id).await?;
    if u.disabled_at.is_some() {
        return Err(ApiError::Conflict(format!(
            "{} is disabled: enable them before sending a link",
            u.email
        )));
    }
    let purpose = if u.has_password {
        Purpose::Reset
    } else {
        Purpose::Invite
    };
    write(state, actor, async |w| {
        users::request_link(w, id, purpose).await
    })
    .await?;
    Ok((u, purpose))
}
