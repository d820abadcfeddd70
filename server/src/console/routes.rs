//! Every console route with the role it needs, in one table: the routes are mounted
//! from it, the session guard reads it, and the role matrix test walks it. A route
//! with no role (`None`) is open to people who are not signed in (sign-in, the
//! one-time link, password reset).

use actix_web::http::Method;

use crate::domain::Role;

pub struct Route {
    pub method: Method,
    /// Under the page's base path.
    pub path: &'static str,
    pub role: Option<Role>,
}

const fn route(method: Method, path: &'static str, role: Option<Role>) -> Route {
    Route { method, path, role }
}

/// The console's routes.
pub fn table() -> Vec<Route> {
    use Role::{Admin, Responder, Viewer};
    vec![
        route(Method::GET, "/admin/signin", None),
        route(Method::POST, "/admin/signin", None),
        route(Method::GET, "/admin/welcome", None),
        route(Method::POST, "/admin/welcome", None),
        route(Method::GET, "/admin/reset", None),
        route(Method::POST, "/admin/reset", None),
        route(Method::POST, "/admin/signout", Some(Viewer)),
        route(Method::GET, "/admin", Some(Viewer)),
        // Recipients are personal data: the ledger and the audit log need what the
        // API's need.
        route(Method::GET, "/admin/deliveries", Some(Admin)),
        route(
            Method::POST,
            "/admin/deliveries/{delivery}/redeliver",
            Some(Admin),
        ),
        route(Method::GET, "/admin/incidents/{id}/deliveries", Some(Admin)),
        route(Method::POST, "/admin/incidents/{id}/redeliver", Some(Admin)),
        route(Method::GET, "/admin/audit", Some(Admin)),
        route(Method::GET, "/admin/incidents/new", Some(Viewer)),
        route(Method::POST, "/admin/incidents/new", Some(Responder)),
        route(Method::GET, "/admin/incidents/{id}", Some(Viewer)),
        route(
            Method::POST,
            "/admin/incidents/{id}/update",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/incidents/{id}/resolve",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/incidents/{id}/reopen",
            Some(Responder),
        ),
        route(
            Method::GET,
            "/admin/incidents/{id}/postmortem",
            Some(Viewer),
        ),
        route(
            Method::POST,
            "/admin/incidents/{id}/postmortem",
            Some(Responder),
        ),
        // Settings, people and API tokens: reading the page's settings is open to
        // anyone signed in (as `GET /v1/pages/{page_id}`); the rest is an admin's, as
        // in the API.
        route(Method::GET, "/admin/settings", Some(Viewer)),
        route(Method::POST, "/admin/settings", Some(Admin)),
        route(Method::GET, "/admin/settings/users", Some(Admin)),
        route(Method::POST, "/admin/settings/users", Some(Admin)),
        route(Method::POST, "/admin/settings/users/{user}", Some(Admin)),
        route(Method::GET, "/admin/settings/tokens", Some(Admin)),
        route(Method::POST, "/admin/settings/tokens", Some(Admin)),
        route(Method::POST, "/admin/settings/tokens/{token}", Some(Admin)),
        route(Method::GET, "/admin/maintenance", Some(Viewer)),
        route(Method::GET, "/admin/maintenance/new", Some(Viewer)),
        route(Method::POST, "/admin/maintenance/new", Some(Responder)),
        route(
            Method::GET,
            "/admin/maintenance/series/{series}",
            Some(Viewer),
        ),
        route(
            Method::POST,
            "/admin/maintenance/series/{series}",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/maintenance/series/{series}/end",
            Some(Responder),
        ),
        route(
            Method::GET,
            "/admin/maintenance/{maintenance}",
            Some(Viewer),
        ),
        route(
            Method::POST,
            "/admin/maintenance/{maintenance}/reschedule",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/maintenance/{maintenance}/update",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/maintenance/{maintenance}/start",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/maintenance/{maintenance}/complete",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/maintenance/{maintenance}/cancel",
            Some(Responder),
        ),
        // Subscribers and tenants: as the API has them, responders read and manage
        // subscribers; tenants, reactivation and bulk imports are an admin's.
        route(Method::GET, "/admin/subscribers", Some(Responder)),
        route(Method::POST, "/admin/subscribers", Some(Responder)),
        route(Method::GET, "/admin/subscribers/import", Some(Admin)),
        route(Method::POST, "/admin/subscribers/import", Some(Admin)),
        route(
            Method::GET,
            "/admin/subscribers/{subscriber}",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/subscribers/{subscriber}",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/subscribers/{subscriber}/reactivate",
            Some(Admin),
        ),
        route(Method::GET, "/admin/tenants", Some(Responder)),
        route(Method::POST, "/admin/tenants", Some(Admin)),
        route(Method::GET, "/admin/tenants/import", Some(Admin)),
        route(Method::POST, "/admin/tenants/import", Some(Admin)),
        route(Method::GET, "/admin/tenants/{tenant}", Some(Responder)),
        route(Method::POST, "/admin/tenants/{tenant}", Some(Admin)),
        // Components and groups: as the API's `.../components` and
        // `.../component-groups` (reading for viewers, changes for responders).
        route(Method::GET, "/admin/components", Some(Viewer)),
        route(Method::POST, "/admin/components", Some(Responder)),
        route(Method::GET, "/admin/components/{component}", Some(Viewer)),
        route(
            Method::POST,
            "/admin/components/{component}",
            Some(Responder),
        ),
        route(
            Method::POST,
            "/admin/components/{component}/status",
            Some(Responder),
        ),
        route(Method::POST, "/admin/component-groups", Some(Responder)),
        route(Method::GET, "/admin/component-groups/{group}", Some(Viewer)),
        route(
            Method::POST,
            "/admin/component-groups/{group}",
            Some(Responder),
        ),
        // Incident templates: as the API's `.../incident_templates` (reading for
        // responders, changes for admins).
        route(Method::GET, "/admin/templates", Some(Responder)),
        route(Method::GET, "/admin/templates/new", Some(Responder)),
        route(Method::POST, "/admin/templates/new", Some(Admin)),
        route(Method::GET, "/admin/templates/{template}", Some(Responder)),
        route(Method::POST, "/admin/templates/{template}", Some(Admin)),
        route(Method::POST, "/admin/template-groups", Some(Admin)),
        route(
            Method::POST,
            "/admin/template-groups/{template_group}",
            Some(Admin),
        ),
    ]
}

/// The role a request's route needs; a request that matches none needs an admin (the
/// guard fails closed).
pub fn role_of(method: &Method, pattern: Option<&str>) -> Role {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    pattern
        .and_then(|p| {
            table()
                .into_iter()
                .find(|r| r.method == *method && r.path == p)
        })
        .map_or(Role::Admin, |r| r.role.unwrap_or(Role::Viewer))
}
