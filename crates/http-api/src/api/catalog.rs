//! The provider's catalog. Admins configure products and plans; anyone (even signed out: the
//! Docs lane is public) lists and reads them. Test data is not part of the public plan: it is
//! shown on a subscription once its sandbox access is granted.

pub mod dto;

use onboarding_core::gates::Gate;
use onboarding_core::ids::*;
use onboarding_core::services::PlanInput;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;

use onboarding_core::roles::StaffAction;

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;
use crate::text::strings;

pub struct CatalogApi {
    pub state: AppState,
}

/// Request DTO → the core's plan input. The core validates the result; this only reshapes.
fn plan_input(dto: &PlanInputDto) -> ApiResult<PlanInput> {
    let mut v = serde_json::to_value(dto).map_err(Problem::internal)?;
    let gates: Vec<String> = match &dto.gates {
        Some(g) => strings(g),
        None => Gate::ALL.iter().map(|g| g.as_str().to_owned()).collect(),
    };
    v["gates"] = serde_json::json!(gates);
    // serde's message names the offending field or variant; it becomes a validation problem.
    serde_json::from_value(v).map_err(|e| Problem::field("plan", e.to_string()))
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Catalog")]
impl CatalogApi {
    /// Create an API product (admins).
    #[oai(path = "/products", method = "post", operation_id = "create_product")]
    async fn create_product(
        &self,
        auth: Auth,
        body: Json<CreateProductRequest>,
    ) -> ApiResult<Created<ProductDto>> {
        let p = self
            .state
            .portal()
            .catalog()
            .create_product(auth.caller(), &body.name, &body.description)
            .await?;
        created((&p).into(), format!("/api/v1/products/{}", p.id))
    }

    /// The API products.
    #[oai(path = "/products", method = "get", operation_id = "list_products")]
    async fn products(
        &self,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<ProductPage>> {
        let all = self.state.portal().catalog().products().await?;
        let (items, next_cursor) = page(all, |p| p.id.to_string(), cursor.0, limit.0);
        ok(ProductPage {
            items: items.iter().map(Into::into).collect(),
            next_cursor,
        })
    }

    /// Create a plan of a product, with test data, submission form, pricing and gates (admins).
    #[oai(
        path = "/products/:id/plans",
        method = "post",
        operation_id = "create_plan"
    )]
    async fn create_plan(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<PlanInputDto>,
    ) -> ApiResult<Created<PlanDto>> {
        let product: ProductId = path_id(&id, "product")?;
        self.state
            .portal()
            .authorize_staff(auth.caller(), StaffAction::ConfigurePlans)?;
        let input = plan_input(&body)?;
        let p = self
            .state
            .portal()
            .catalog()
            .create_plan(auth.caller(), product, input)
            .await?;
        created(PlanDto::admin(&p), format!("/api/v1/plans/{}", p.id))
    }

    /// Replace a plan's configuration (admins). Send the version you loaded as `If-Match`.
    #[oai(path = "/plans/:id", method = "put", operation_id = "update_plan")]
    async fn update_plan(
        &self,
        auth: Auth,
        id: Path<String>,
        #[oai(name = "If-Match")] if_match: Header<Option<IfMatch>>,
        body: Json<PlanInputDto>,
    ) -> ApiResult<Tagged<PlanDto>> {
        let id: PlanId = path_id(&id, "plan")?;
        let (version, strict) = expected_version(if_match.0, body.version);
        self.state
            .portal()
            .authorize_staff(auth.caller(), StaffAction::ConfigurePlans)?;
        let input = plan_input(&body)?;
        let p = self
            .state
            .portal()
            .catalog()
            .update_plan(auth.caller(), id, input, version)
            .await
            .map_err(|e| precondition(e, strict))?;
        tagged(PlanDto::admin(&p), p.version)
    }

    /// Every plan.
    #[oai(path = "/plans", method = "get", operation_id = "list_plans")]
    async fn plans(
        &self,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<PlanPage>> {
        let all = self.state.portal().catalog().plans().await?;
        let (items, next_cursor) = page(all, |p| p.id.to_string(), cursor.0, limit.0);
        ok(PlanPage {
            items: items.iter().map(PlanDto::public).collect(),
            next_cursor,
        })
    }

    /// One plan.
    #[oai(path = "/plans/:id", method = "get", operation_id = "get_plan")]
    async fn plan(&self, id: Path<String>) -> ApiResult<Tagged<PlanDto>> {
        let id: PlanId = path_id(&id, "plan")?;
        let p = self.state.portal().catalog().plan(id).await?;
        tagged(PlanDto::public(&p), p.version)
    }
}
