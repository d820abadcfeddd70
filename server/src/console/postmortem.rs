//! The postmortem editor: the Markdown rendered exactly as the public page renders it,
//! save the draft, publish it (telling subscribers or not), take it back to draft. The
//! same commands as `PUT .../postmortem`, `.../publish` and `.../revert`.

use actix_web::{HttpResponse, http::StatusCode, http::header, web};
use serde::Serialize;

use super::auth::{Posted, Signed, Viewing};
use super::pages::{self, Frame, frame, render};
use crate::app::AppState;
use crate::domain::IncidentId;
use crate::http::{error::ApiError, v1::commit};
use crate::render::time::{TimeView, time_view};
use crate::store::{
    StoreError,
    incidents::{self, Command, PostmortemAction},
};

/// The longest postmortem, as the API takes it.
const MAX_POSTMORTEM: usize = 262_144;

#[derive(Serialize)]
struct EditorView {
    layout: Frame,
    id: String,
    name: String,
    body: String,
    preview_html: Option<String>,
    published: bool,
    published_at: Option<TimeView>,
    draft_saved_at: Option<TimeView>,
    notify: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

struct Shown {
    status: StatusCode,
    body: Option<String>,
    preview: bool,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn editor(state: &AppState, who: &Signed, id: &IncidentId, s: Shown) -> HttpResponse {
    let i = match incidents::get(state.store.db(), id).await {
        Ok(i) => i,
        Err(StoreError::NotFound { .. }) => return pages::not_found(state, Some(who), "incident"),
        Err(e) => {
            tracing::error!(error = %e, "the postmortem editor");
            return pages::unavailable(state);
        }
    };
    let tz = state
        .snapshots
        .current()
        .map_or(chrono_tz::UTC, |s| s.data.ctx.tz);
    let body = s
        .body
        .or_else(|| i.postmortem_body.clone())
        .unwrap_or_default();
    let view = EditorView {
        layout: frame(
            state,
            &format!("Postmortem: {}", i.name),
            Some(who),
            "incident",
        ),
        id: i.id.to_string(),
        name: i.name.clone(),
        // Rendered by the one function the public page renders Markdown with.
        preview_html: s
            .preview
            .then(|| state.snapshots.markdown().html(&body).to_string()),
        body,
        published: i.postmortem_published_at.is_some(),
        published_at: i.postmortem_published_at.map(|t| time_view(t, tz)),
        draft_saved_at: i.postmortem_body_last_updated_at.map(|t| time_view(t, tz)),
        notify: true,
        notice: s.notice,
        error: s.error,
    };
    render(state, s.status, "admin/postmortem", &view)
}

pub async fn page(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    Viewing(who): Viewing,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    let done = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let notice = match done.as_str() {
        "draft" => Some("The draft is saved. Readers see nothing until you publish."),
        "published" => Some("The postmortem is published on the incident's page."),
        "reverted" => Some("The postmortem is a draft again and no longer on the public page."),
        _ => None,
    };
    let s = Shown {
        status: StatusCode::OK,
        body: None,
        preview: false,
        notice,
        error: None,
    };
    editor(&state, &who, &id, s).await
}

#[tracing::instrument(skip_all, fields(user = %p.who.user.id, incident))]
pub async fn submit(
    state: web::Data<AppState>,
    p: Posted,
    path: web::Path<String>,
) -> HttpResponse {
    let id = IncidentId::from(path.into_inner());
    tracing::Span::current().record("incident", id.as_str());
    let body = p.form.str("body").replace("\r\n", "\n");
    let action = p.form.str("action").to_owned();
    let refuse = |m: String| Shown {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: Some(body.clone()),
        preview: false,
        notice: None,
        error: Some(m),
    };
    if body.len() > MAX_POSTMORTEM {
        let m = format!("Nothing was changed: a postmortem has at most {MAX_POSTMORTEM} bytes.");
        return editor(&state, &p.who, &id, refuse(m)).await;
    }
    let actions: Vec<PostmortemAction> = match action.as_str() {
        "preview" => {
            let s = Shown {
                status: StatusCode::OK,
                body: Some(body.clone()),
                preview: true,
                notice: None,
                error: None,
            };
            return editor(&state, &p.who, &id, s).await;
        }
        "revert" => vec![PostmortemAction::Revert],
        "draft" | "publish" if body.trim().is_empty() => {
            let m = "Nothing was changed: write the postmortem first.".to_owned();
            return editor(&state, &p.who, &id, refuse(m)).await;
        }
        "draft" => vec![PostmortemAction::Draft(body.clone())],
        "publish" => vec![
            PostmortemAction::Draft(body.clone()),
            PostmortemAction::Publish {
                notify_subscribers: p.form.ticked("notify_subscribers"),
            },
        ],
        _ => {
            let m = "Nothing was changed: that button is not one this form has.".to_owned();
            return editor(&state, &p.who, &id, refuse(m)).await;
        }
    };
    let done = match action.as_str() {
        "revert" => "reverted",
        "publish" => "published",
        _ => "draft",
    };
    let applied = commit(&state, &p.who.actor, async |w| {
        for a in actions {
            incidents::apply(w, &id, Command::Postmortem(a)).await?;
        }
        Ok(())
    })
    .await;
    match applied {
        Ok(((), shown)) => {
            shown.wait(&state).await;
            HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("{}/admin/incidents/{id}/postmortem?done={done}", state.base),
                ))
                .finish()
        }
        Err(ApiError::NotFound(_)) => pages::not_found(&state, Some(&p.who), "incident"),
        Err(e) => {
            let m = match e {
                ApiError::Internal(_) => {
                    "Something went wrong on the server; nothing was changed.".to_owned()
                }
                other => format!("Nothing was changed: {other}"),
            };
            editor(&state, &p.who, &id, refuse(m)).await
        }
    }
}
