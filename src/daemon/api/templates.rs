//! `/api/v1/templates`: the catalog, its validation report, and one template's details.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::daemon::catalog;
use crate::daemon::error::ApiResult;
use crate::daemon::extract::PathParam;
use crate::daemon::state::AppState;
use crate::model::api::{
    FileErrorInfo, ServiceInfo, TemplateInfo, TemplateSummary, ValidationResult, ValidationSummary,
};
use crate::model::size::Size;
use crate::model::template::{Origin, ServiceAuth, Template, ValidationStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list))
        .route("/templates/validate", get(validate))
        .route("/templates/{name}/info", get(info))
}

fn origin(template: &Template) -> String {
    match template.origin {
        Origin::Bundled => "bundled".into(),
        Origin::User => "user".into(),
    }
}

fn summary(t: &Template) -> TemplateSummary {
    TemplateSummary {
        name: t.name.clone(),
        slug: t.slug.clone(),
        description: t.description.clone(),
        package_manager: t.package_manager.to_string(),
        packages: t.all_packages(),
        users: t.user_names(),
        services: t.services.iter().map(|s| s.name.clone()).collect(),
        ports: t.ports.clone(),
        inherits: t.inherits.clone(),
        default_size: t.default_size().to_string(),
        hibernation: t.wants_hibernation(),
        source: origin(t),
        validation_status: "validated".into(),
    }
}

async fn list(State(state): State<AppState>) -> Json<Vec<TemplateSummary>> {
    Json(
        state
            .templates
            .current()
            .templates()
            .iter()
            .map(summary)
            .collect(),
    )
}

async fn validate(State(state): State<AppState>) -> Json<ValidationSummary> {
    let catalog = state.templates.current();
    let results: Vec<ValidationResult> = catalog
        .reports()
        .iter()
        .map(|r| ValidationResult {
            template: r.template.clone(),
            file: r.file.clone(),
            status: match r.status {
                ValidationStatus::Valid => "valid".into(),
                ValidationStatus::Invalid => "invalid".into(),
            },
            checks_passed: r.checks_passed,
            checks_total: r.checks_total,
            issues: r.issues.clone(),
        })
        .collect();
    Json(ValidationSummary {
        total_templates: results.len(),
        validated: results.iter().filter(|r| r.status == "valid").count(),
        errors: catalog
            .file_errors()
            .iter()
            .map(|e| FileErrorInfo {
                file: e.file.clone(),
                message: e.message.clone(),
            })
            .collect(),
        validation_results: results,
    })
}

async fn info(
    State(state): State<AppState>,
    PathParam(name): PathParam,
) -> ApiResult<Json<TemplateInfo>> {
    let t = catalog::lookup(&state.templates.current(), &name)?;
    let sizes = Size::ALL
        .iter()
        .filter_map(|size| t.instance_type_for(*size).map(|it| (size.to_string(), it)))
        .collect();
    Ok(Json(TemplateInfo {
        name: t.name.clone(),
        slug: t.slug.clone(),
        description: t.description.clone(),
        inherits: t.inherits.clone(),
        resolved_packages: t.all_packages(),
        resolved_users: t.user_names(),
        resolved_ports: t.ports.clone(),
        dependency_chain: t.dependency_chain.clone(),
        resolution_order: t.resolution_order.clone(),
        validation_status: "validated".into(),
        troubleshooting_guide: t.troubleshooting.clone(),
        package_manager: t.package_manager.to_string(),
        packages_by_source: t
            .packages
            .iter()
            .map(|(source, list)| (format!("{source:?}").to_lowercase(), list.clone()))
            .collect(),
        services: t
            .services
            .iter()
            .map(|s| ServiceInfo {
                name: s.name.clone(),
                port: s.port,
                auth: match s.auth {
                    ServiceAuth::None => "none".into(),
                    ServiceAuth::Token => "token".into(),
                    ServiceAuth::Password => "password".into(),
                },
            })
            .collect(),
        os: t.base.os.map(|os| os.as_str().to_string()),
        ssh_user: t.base.ssh_user.clone(),
        family: format!("{:?}", t.family()).to_lowercase(),
        architecture: t.architecture().to_string(),
        default_size: t.default_size().to_string(),
        sizes,
        root_volume_gb: t.root_volume_gb(),
        root_volume_type: t.root_volume_type().to_string(),
        hibernation: t.wants_hibernation(),
        idle_profile: t.idle.profile.clone(),
        idle_minutes: t.idle.idle_minutes,
        idle_action: format!("{:?}", t.idle_action()).to_lowercase(),
        source: origin(&t),
        file: t.path.clone(),
    }))
}
