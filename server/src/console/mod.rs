//! The responder console under `/admin`: server-rendered pages and plain HTML forms for
//! people who sign in (see `auth`). Pages read through the store; every change goes
//! through the same write paths as the admin API (`http::v1`), so the console and the
//! API cannot disagree about what a change does.

pub mod auth;
mod components;
mod dashboard;
mod incidents;
mod ledger;
mod maintenance;
pub mod pages;
mod people;
mod postmortem;
pub mod routes;
mod settings;
mod signin;
mod subscribers;
mod templates;
mod tenants;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;

/// Mounts `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .app_data(web::PayloadConfig::new(crate::http::body::LIMIT))
            .service(
                web::resource("")
                    .route(web::get().to(dashboard::page))
                    .route(web::head().to(dashboard::page)),
            )
            .service(
                web::resource("/signin")
                    .route(web::get().to(signin::form))
                    .route(web::post().to(signin::submit)),
            )
            .service(
                web::resource("/welcome")
                    .route(web::get().to(signin::welcome))
                    .route(web::post().to(signin::choose_password)),
            )
            .service(
                web::resource("/reset")
                    .route(web::get().to(signin::reset_form))
                    .route(web::post().to(signin::reset)),
            )
            .service(web::resource("/signout").route(web::post().to(signin::sign_out)))
            .service(web::resource("/deliveries").route(web::get().to(ledger::deliveries)))
            .service(
                web::resource("/deliveries/{delivery}/redeliver")
                    .route(web::post().to(ledger::redeliver_one)),
            )
            .service(web::resource("/audit").route(web::get().to(ledger::audit_log)))
            .service(
                web::resource("/incidents/{id}/deliveries").route(web::get().to(ledger::incident)),
            )
            .service(
                web::resource("/incidents/{id}/redeliver")
                    .route(web::post().to(ledger::redeliver_incident)),
            )
            .service(web::resource("/maintenance").route(web::get().to(maintenance::list)))
            .service(
                web::resource("/maintenance/new")
                    .route(web::get().to(maintenance::new_form))
                    .route(web::post().to(maintenance::schedule)),
            )
            .service(
                web::resource("/maintenance/series/{series}")
                    .route(web::get().to(maintenance::series_view))
                    .route(web::post().to(maintenance::series_edit)),
            )
            .service(
                web::resource("/maintenance/series/{series}/end")
                    .route(web::post().to(maintenance::series_end)),
            )
            .service(
                web::resource("/maintenance/{maintenance}").route(web::get().to(maintenance::page)),
            )
            .service(
                web::resource("/maintenance/{maintenance}/reschedule")
                    .route(web::post().to(maintenance::reschedule)),
            )
            .service(
                web::resource("/maintenance/{maintenance}/update")
                    .route(web::post().to(maintenance::update)),
            )
            .service(
                web::resource("/maintenance/{maintenance}/start")
                    .route(web::post().to(maintenance::start)),
            )
            .service(
                web::resource("/maintenance/{maintenance}/complete")
                    .route(web::post().to(maintenance::complete)),
            )
            .service(
                web::resource("/maintenance/{maintenance}/cancel")
                    .route(web::post().to(maintenance::cancel)),
            )
            .service(
                web::resource("/incidents/new")
                    .route(web::get().to(incidents::declare_form))
                    .route(web::post().to(incidents::declare)),
            )
            .service(web::resource("/incidents/{id}").route(web::get().to(incidents::page)))
            .service(
                web::resource("/incidents/{id}/update").route(web::post().to(incidents::update)),
            )
            .service(
                web::resource("/incidents/{id}/resolve").route(web::post().to(incidents::resolve)),
            )
            .service(
                web::resource("/incidents/{id}/reopen").route(web::post().to(incidents::reopen)),
            )
            .service(
                web::resource("/incidents/{id}/postmortem")
                    .route(web::get().to(postmortem::page))
                    .route(web::post().to(postmortem::submit)),
            )
            .service(
                web::resource("/settings")
                    .route(web::get().to(settings::page))
                    .route(web::head().to(settings::page))
                    .route(web::post().to(settings::save)),
            )
            .service(
                web::resource("/settings/users")
                    .route(web::get().to(settings::people))
                    .route(web::post().to(settings::invite)),
            )
            .service(
                web::resource("/settings/users/{user}").route(web::post().to(settings::person)),
            )
            .service(
                web::resource("/settings/tokens")
                    .route(web::get().to(settings::token_list))
                    .route(web::post().to(settings::create_token)),
            )
            .service(
                web::resource("/settings/tokens/{token}")
                    .route(web::post().to(settings::revoke_token)),
            )
            .service(
                web::resource("/subscribers")
                    .route(web::get().to(subscribers::list))
                    .route(web::post().to(subscribers::create)),
            )
            .service(
                web::resource("/subscribers/import")
                    .route(web::get().to(subscribers::import_form))
                    .route(web::post().to(subscribers::import)),
            )
            .service(
                web::resource("/subscribers/{subscriber}")
                    .route(web::get().to(subscribers::page))
                    .route(web::post().to(subscribers::submit)),
            )
            .service(
                web::resource("/subscribers/{subscriber}/reactivate")
                    .route(web::post().to(subscribers::reactivate)),
            )
            .service(
                web::resource("/tenants")
                    .route(web::get().to(tenants::list))
                    .route(web::post().to(tenants::create)),
            )
            .service(
                web::resource("/tenants/import")
                    .route(web::get().to(tenants::import_form))
                    .route(web::post().to(tenants::import)),
            )
            .service(
                web::resource("/tenants/{tenant}")
                    .route(web::get().to(tenants::page))
                    .route(web::post().to(tenants::submit)),
            )
            .service(
                web::resource("/components")
                    .route(web::get().to(components::board))
                    .route(web::post().to(components::create)),
            )
            .service(
                web::resource("/components/{component}")
                    .route(web::get().to(components::component))
                    .route(web::post().to(components::change)),
            )
            .service(
                web::resource("/components/{component}/status")
                    .route(web::post().to(components::set_status)),
            )
            .service(
                web::resource("/component-groups").route(web::post().to(components::create_group)),
            )
            .service(
                web::resource("/component-groups/{group}")
                    .route(web::get().to(components::group))
                    .route(web::post().to(components::change_group)),
            )
            .service(web::resource("/templates").route(web::get().to(templates::list)))
            .service(
                web::resource("/templates/new")
                    .route(web::get().to(templates::new_form))
                    .route(web::post().to(templates::create)),
            )
            .service(
                web::resource("/templates/{template}")
                    .route(web::get().to(templates::page))
                    .route(web::post().to(templates::change)),
            )
            .service(
                web::resource("/template-groups").route(web::post().to(templates::create_group)),
            )
            .service(
                web::resource("/template-groups/{template_group}")
                    .route(web::post().to(templates::change_group)),
            )
            .default_service(web::to(no_such_page))
            .wrap(crate::http::security::no_store()),
    );
}

async fn no_such_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let what = format!("console page at {}", req.path());
    pages::not_found(&state, None, &what)
}
