//! Workspaces, members, invitations, join requests and named responsibles.

pub mod dto;

use chrono::TimeDelta;
use onboarding_core::ids::*;
use onboarding_core::workspace::Responsibility;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::*;
use crate::auth::Auth;
use crate::dto::*;
use crate::state::AppState;

pub struct WorkspacesApi {
    pub state: AppState,
}

#[OpenApi(prefix_path = "/api/v1", tag = "Tag::Workspaces")]
impl WorkspacesApi {
    /// Create a workspace; you become its owner.
    #[oai(
        path = "/workspaces",
        method = "post",
        operation_id = "create_workspace"
    )]
    async fn create(
        &self,
        auth: Auth,
        body: Json<CreateWorkspaceRequest>,
    ) -> ApiResult<Created<WorkspaceDto>> {
        let ws = self
            .state
            .portal()
            .workspaces()
            .create_workspace(auth.caller(), &body.name)
            .await?;
        created(
            WorkspaceDto::new(&ws, None),
            format!("/api/v1/workspaces/{}", ws.id),
        )
    }

    /// The workspaces you belong to, with your roles.
    #[oai(path = "/workspaces", method = "get", operation_id = "list_workspaces")]
    async fn list(
        &self,
        auth: Auth,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Ok200<WorkspacePage>> {
        let all = self
            .state
            .portal()
            .workspaces()
            .my_workspaces(auth.caller())
            .await?;
        let (items, next_cursor) = page(all, |(w, _)| w.id.to_string(), cursor.0, limit.0);
        ok(WorkspacePage {
            items: items
                .iter()
                .map(|(w, r)| WorkspaceDto::new(w, Some(*r)))
                .collect(),
            next_cursor,
        })
    }

    /// The workspace page: members, invitations, join requests and the next step.
    #[oai(
        path = "/workspaces/:id",
        method = "get",
        operation_id = "get_workspace"
    )]
    async fn get(&self, auth: Auth, id: Path<String>) -> ApiResult<Tagged<WorkspaceOverviewDto>> {
        let id: WorkspaceId = path_id(&id, "workspace")?;
        let o = self
            .state
            .portal()
            .workspaces()
            .workspace_overview(auth.caller(), id)
            .await?;
        tagged((&o).into(), o.workspace.version)
    }

    /// The workspace's exact next step.
    #[oai(
        path = "/workspaces/:id/next-step",
        method = "get",
        operation_id = "get_next_step"
    )]
    async fn next_step(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<NextStepDto>> {
        let id: WorkspaceId = path_id(&id, "workspace")?;
        let n = self
            .state
            .portal()
            .workspaces()
            .next_step_for_workspace(auth.caller(), id)
            .await?;
        ok((&n).into())
    }

    /// Invite an e-mail with a set of roles (owners).
    #[oai(
        path = "/workspaces/:id/invitations",
        method = "post",
        operation_id = "create_invitation"
    )]
    async fn invite(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<InviteRequest>,
    ) -> ApiResult<Created<InvitationDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let roles = role_set(&body.roles, "roles")?;
        let ttl = body.expires_in_days.map(TimeDelta::days);
        let inv = self
            .state
            .portal()
            .workspaces()
            .invite(auth.caller(), ws, &body.email, roles, ttl)
            .await?;
        created((&inv).into(), format!("/api/v1/invitations/{}", inv.id))
    }

    /// Revoke a pending invitation (owners).
    #[oai(
        path = "/invitations/:id/revoke",
        method = "post",
        operation_id = "revoke_invitation"
    )]
    async fn revoke_invitation(
        &self,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Ok200<InvitationDto>> {
        let id: InvitationId = path_id(&id, "invitation")?;
        let inv = self
            .state
            .portal()
            .workspaces()
            .revoke_invitation(auth.caller(), id)
            .await?;
        ok((&inv).into())
    }

    /// Accept an invitation sent to your e-mail.
    #[oai(
        path = "/invitations/:id/accept",
        method = "post",
        operation_id = "accept_invitation"
    )]
    async fn accept_invitation(
        &self,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Ok200<MembershipDto>> {
        let id: InvitationId = path_id(&id, "invitation")?;
        let m = self
            .state
            .portal()
            .workspaces()
            .accept_invitation(auth.caller(), id)
            .await?;
        ok((&m).into())
    }

    /// Ask to join a workspace (its id shared by a colleague); an owner decides.
    #[oai(
        path = "/workspaces/:id/join-requests",
        method = "post",
        operation_id = "create_join_request"
    )]
    async fn request_to_join(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<JoinRequestRequest>,
    ) -> ApiResult<Created<JoinRequestDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let jr = self
            .state
            .portal()
            .workspaces()
            .request_to_join(auth.caller(), ws, body.0.message.map(String::from))
            .await?;
        created((&jr).into(), format!("/api/v1/join-requests/{}", jr.id))
    }

    /// Approve a join request with roles (default `developer`) (owners).
    #[oai(
        path = "/join-requests/:id/approve",
        method = "post",
        operation_id = "approve_join_request"
    )]
    async fn approve_join(
        &self,
        auth: Auth,
        id: Path<String>,
        body: Json<DecideJoinRequest>,
    ) -> ApiResult<Ok200<JoinRequestDto>> {
        let id: JoinRequestId = path_id(&id, "join request")?;
        let roles = match &body.roles {
            Some(r) => Some(role_set(r, "roles")?),
            None => None,
        };
        let jr = self
            .state
            .portal()
            .workspaces()
            .decide_join_request(auth.caller(), id, true, roles)
            .await?;
        ok((&jr).into())
    }

    /// Decline a join request (owners).
    #[oai(
        path = "/join-requests/:id/decline",
        method = "post",
        operation_id = "decline_join_request"
    )]
    async fn decline_join(&self, auth: Auth, id: Path<String>) -> ApiResult<Ok200<JoinRequestDto>> {
        let id: JoinRequestId = path_id(&id, "join request")?;
        let jr = self
            .state
            .portal()
            .workspaces()
            .decide_join_request(auth.caller(), id, false, None)
            .await?;
        ok((&jr).into())
    }

    /// Replace a member's roles (owners; a workspace keeps at least one owner).
    #[oai(
        path = "/workspaces/:id/members/:account_id/roles",
        method = "put",
        operation_id = "set_member_roles"
    )]
    async fn set_roles(
        &self,
        auth: Auth,
        id: Path<String>,
        account_id: Path<String>,
        body: Json<SetRolesRequest>,
    ) -> ApiResult<Ok200<MembershipDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let account: AccountId = path_id(&account_id, "member")?;
        let roles = role_set(&body.roles, "roles")?;
        let m = self
            .state
            .portal()
            .workspaces()
            .set_roles(auth.caller(), ws, account, roles)
            .await?;
        ok((&m).into())
    }

    /// Remove a member (owners; never the last owner).
    #[oai(
        path = "/workspaces/:id/members/:account_id",
        method = "delete",
        operation_id = "remove_member"
    )]
    async fn remove_member(
        &self,
        auth: Auth,
        id: Path<String>,
        account_id: Path<String>,
    ) -> ApiResult<NoContent> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let account: AccountId = path_id(&account_id, "member")?;
        self.state
            .portal()
            .workspaces()
            .remove_member(auth.caller(), ws, account)
            .await?;
        Ok(NoContent::NoContent)
    }

    /// Name (or clear) the `billing_owner`, `audit_contact` or `security_owner`; the member must
    /// hold the matching role.
    #[oai(
        path = "/workspaces/:id/responsibles/:responsibility",
        method = "put",
        operation_id = "name_responsible"
    )]
    async fn name_responsible(
        &self,
        auth: Auth,
        id: Path<String>,
        responsibility: Path<String>,
        body: Json<NameResponsibleRequest>,
    ) -> ApiResult<Tagged<WorkspaceDto>> {
        let ws: WorkspaceId = path_id(&id, "workspace")?;
        let what = match responsibility.as_str() {
            "billing_owner" => Responsibility::BillingOwner,
            "audit_contact" => Responsibility::AuditContact,
            "security_owner" => Responsibility::SecurityOwner,
            _ => return Err(Problem::not_found("responsibility")),
        };
        let who = match &body.account_id {
            Some(a) => Some(body_id::<AccountId>(a, "account_id")?),
            None => None,
        };
        let w = self
            .state
            .portal()
            .workspaces()
            .name_responsible(auth.caller(), ws, what, who)
            .await?;
        tagged(WorkspaceDto::new(&w, None), w.version)
    }
}
