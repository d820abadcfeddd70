use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{View, ok, write};
use crate::app::AppState;
use crate::http::{
    body::{Change, Enveloped},
    error::ApiError,
};
use crate::render::statuspage::{PageDoc, page_doc};
use crate::store::{
    Actor,
    pages::{self, PagePatch},
};

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PageBody {
    #[schemars(length(min = 1, max = 255), regex(pattern = crate::http::routes::NAME_PATTERN))]
    pub name: Option<String>,
    /// An IANA time zone such as `Europe/Berlin`.
    #[schemars(with = "Option<TimeZone>")]
    pub time_zone: Option<String>,
    /// Statuspage's subdomain: one DNS label. By default the first label of the public
    /// URL's host.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"))]
    pub subdomain: Option<String>,
    /// Where readers get help, `https://...` or `mailto:...` (a template variable,
    /// `page.support_url`); empty clears it.
    #[schemars(length(max = 2000), regex(pattern = r"^(|(https?://|mailto:)\S+)$"))]
    pub support_url: Option<String>,
    /// Responders reminded by mail before a promised update is due.
    #[schemars(length(max = 50))]
    pub responder_emails: Option<Vec<String>>,
    /// A webhook (Slack, Discord, Teams or any JSON receiver) reminded before a promised
    /// update is due; empty clears it.
    #[schemars(length(max = 2000), regex(pattern = r"^(|https?://\S+)$"))]
    pub responder_webhook_url: Option<String>,
    /// Minutes before a promised update is due that responders are reminded (default 5).
    #[serde(default, deserialize_with = "crate::http::lenient::opt_u32")]
    #[schemars(with = "Option<crate::http::lenient::MinutesUpTo<1440>>")]
    pub reminder_lead_minutes: Option<u32>,
    /// Whether the public incident page says how long after the impact began the first
    /// update came.
    #[serde(default, deserialize_with = "crate::http::lenient::opt_bool")]
    #[schemars(with = "Option<crate::http::lenient::Bool>")]
    pub show_first_update_delay: Option<bool>,
}

/// The IANA time zones Herald knows, for the OpenAPI document.
pub struct TimeZone;

impl JsonSchema for TimeZone {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeZone".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
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
    pub subdomain: String,
    pub domain: Option<String>,
    pub page_description: Option<String>,
    pub allow_page_subscribers: bool,
    pub allow_incident_subscribers: bool,
    pub allow_email_subscribers: bool,
    pub allow_sms_subscribers: bool,
    pub allow_rss_atom_feeds: bool,
    pub allow_webhook_subscribers: bool,
    pub support_url: Option<String>,
    /// Reminded before a promised update is due (when empty, `HERALD_RESPONDER_EMAILS`
    /// is used).
    pub responder_emails: Vec<String>,
    pub responder_webhook_url: Option<String>,
    pub reminder_lead_minutes: u32,
    pub show_first_update_delay: bool,
}

fn v1(view: &View) -> PageV1 {
    PageV1 {
        page: page_doc(&view.page, &view.ctx),
        created_at: view.ctx.ts(view.page.created_at),
        subdomain: view.page.subdomain(),
        domain: url::Url::parse(&view.ctx.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned)),
        page_description: None,
        allow_page_subscribers: true,
        allow_incident_subscribers: true,
        allow_email_subscribers: true,
        allow_sms_subscribers: false,
        allow_rss_atom_feeds: true,
        allow_webhook_subscribers: true,
        support_url: view.page.support_url.clone(),
        responder_emails: view.page.responder_emails.clone(),
        responder_webhook_url: view.page.responder_webhook_url.clone(),
        reminder_lead_minutes: view.page.reminder_lead_minutes,
        show_first_update_delay: view.page.show_first_update_delay,
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
    Change(body): Change<PageBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(body) = body else {
        // Nothing to change: the page as it is, nothing written.
        return Ok(ok(&v1(&View::load(&state).await?)));
    };
    apply(&state, &actor, body).await?;
    Ok(ok(&v1(&View::load(&state).await?)))
}

/// Changes the page's settings as `PATCH /v1/pages/{page_id}` does: the same checks, the
/// same write, and answered once the public side shows it. Errors name the fields as
/// the API's body does (`page.time_zone`). The console's settings form comes here too.
pub(crate) async fn apply(
    state: &AppState,
    actor: &Actor,
    body: PageBody,
) -> Result<pages::Page, ApiError> {
    if let Some(tz) = &body.time_zone
        && tz.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::invalid(
            "page.time_zone",
            format!("'{tz}' is not an IANA time zone"),
        ));
    }
    if let Some(u) = body
        .responder_webhook_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        crate::notify::webhook::check_endpoint(u, state.notifier.webhook_allow())
            .await
            .map_err(|r| {
                ApiError::invalid(
                    "page.responder_webhook_url",
                    format!("endpoint refused: {r}"),
                )
            })?;
    }
    let patch = PagePatch {
        name: body.name,
        time_zone: body.time_zone,
        subdomain: body.subdomain,
        support_url: body.support_url,
        responder_emails: body.responder_emails,
        responder_webhook_url: body.responder_webhook_url,
        reminder_lead_minutes: body.reminder_lead_minutes,
        show_first_update_delay: body.show_first_update_delay,
    };
    write(state, actor, async |w| pages::update(w, patch).await)
        .await
        .map_err(|e| e.in_body(PageBody::KEY))
}
