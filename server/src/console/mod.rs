//! The responder console under `/admin`: server-rendered pages and plain HTML forms for
//! people who sign in (see `auth`). Pages read through the store; every change goes
//! through the same write paths as the admin API (`http::v1`), so the console and the
//! API cannot disagree about what a change does.

pub mod auth;
mod components;
mod dashboard;
mod incidents;
pub mod pages;
mod postmortem;
pub mod routes;
mod signin;
mod templates;

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
            .service(web::resource("/deliveries").route(web::get().to(dashboard::deliveries)))
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
