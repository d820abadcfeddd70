use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, ok, write};
use crate::http::{
    AppState,
    body::{Envelope, Enveloped},
    error::ApiError,
};
use crate::render::statuspage::{PageDoc, page_doc};
use crate::store::{
    Actor,
    pages::{self, PagePatch},
};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PageBody {
    pub name: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`.
    pub time_zone: Option<String>,
}

impl Enveloped for PageBody {
    const KEY: &'static str = "page";
}

/// The manage API's page object (the fields Herald has).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PageV1 {
    #[serde(flatten)]
    pub page: PageDoc,
    pub created_at: String,
    pub subdomain: Option<String>,
    pub domain: Option<String>,
    pub page_description: Option<String>,
    pub allow_page_subscribers: bool,
    pub allow_incident_subscribers: bool,
    pub allow_email_subscribers: bool,
    pub allow_sms_subscribers: bool,
    pub allow_rss_atom_feeds: bool,
    pub allow_webhook_subscribers: bool,
}

fn v1(view: &View) -> PageV1 {
    PageV1 {
        page: page_doc(&view.page, &view.ctx),
        created_at: view.ctx.ts(view.page.created_at),
        subdomain: None,
        domain: url::Url::parse(&view.ctx.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        page_description: None,
        allow_page_subscribers: false,
        allow_incident_subscribers: false,
        allow_email_subscribers: false,
        allow_sms_subscribers: false,
        allow_rss_atom_feeds: true,
        allow_webhook_subscribers: false,
    }
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let view = View::load(&state).await?;
    Ok(ok(&vec![page_doc(&view.page, &view.ctx)]))
}

pub async fn get(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(ok(&v1(&View::load(&state).await?)))
}

pub async fn update(
    state: web::Data<AppState>,
    actor: Actor,
    Envelope(body): Envelope<PageBody>,
) -> Result<HttpResponse, ApiError> {
    if let Some(tz) = &body.time_zone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::invalid(
            "page.time_zone",
            format!("'{tz}' is not an IANA time zone"),
        ));
    }
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid("page.name", "name must not be empty"));
    }
    let patch = PagePatch {
        name: body.name.map(|n| n.trim().to_owned()),
        time_zone: body.time_zone,
    };
    write(&state, &actor, async |w| pages::update(w, patch).await).await?;
    Ok(ok(&v1(&View::load(&state).await?)))
}
