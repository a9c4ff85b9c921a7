//! `/api/v1/templates`: the catalog, its validation report, and one template's details.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::daemon::catalog;
use crate::daemon::error::ApiResult;
use crate::daemon::extract::PathParam;
use crate::daemon::state::AppState;
use crate::model::api::{
    ErrorBody, FileErrorInfo, ServiceInfo, TemplateInfo, TemplateSummary, ValidationResult,
    ValidationSummary,
};
use crate::model::size::Size;
use crate::model::template::{Origin, ServiceAuth, Template, ValidationStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(validate))
        .routes(routes!(info))
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

/// List the templates
///
/// Every template that passed validation, bundled and the user's, as it resolves after
/// inheritance. Templates that failed are left out; `GET /api/v1/templates/validate` names them.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    operation_id = "list_templates",
    tag = "templates",
    responses((status = 200, description = "The valid templates", body = [TemplateSummary])),
)]
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

/// Validate every template
///
/// The findings for each template file, valid or not, and the files that could not be read as
/// templates at all. Validation runs whenever a template file changes; this reports its result.
#[utoipa::path(
    get,
    path = "/api/v1/templates/validate",
    operation_id = "validate_templates",
    tag = "templates",
    responses((status = 200, description = "The validation report", body = ValidationSummary)),
)]
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

/// Show one template
///
/// The template as it resolves after inheritance: packages by source, users, services, ports,
/// the instance type of each size, storage, hibernation and idle settings, and the chain of
/// templates it inherits from.
#[utoipa::path(
    get,
    path = "/api/v1/templates/{name}/info",
    operation_id = "template_info",
    tag = "templates",
    params((
        "name" = String,
        Path,
        description = "The template's name or slug; for a file that did not parse, its file \
                       name without extension"
    )),
    responses(
        (status = 200, description = "The resolved template", body = TemplateInfo),
        (
            status = 400,
            description = "`INVALID_REQUEST`: the name in the path cannot be decoded.",
            body = ErrorBody
        ),
        (
            status = 404,
            description = "`TEMPLATE_NOT_FOUND`: no template answers to that name.",
            body = ErrorBody
        ),
        (
            status = 422,
            description = "`TEMPLATE_INVALID`: the template exists but failed validation; \
                           `details` has the findings.",
            body = ErrorBody
        ),
    ),
)]
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
