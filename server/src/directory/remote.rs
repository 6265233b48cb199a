//! The directory's side of a cluster: names claimed in the whole cluster,
//! and private messages and kicks for clients of other nodes (sent to that
//! node's inbox, and received from this node's).

use chat_core::protocol::{now_millis, ErrorCode, PrivateMessage, ServerFrame};
use tracing::{info, warn};

use super::moderation::with_reason;
use super::{ClientId, Directory, Refusal};
use crate::cluster::{InboxItem, UNAVAILABLE};

impl Directory {
    /// Claims `name` for `id` in the cluster (nothing to do without one).
    pub(super) async fn claim_in_cluster(
        &mut self,
        id: ClientId,
        name: &str,
    ) -> Result<(), Refusal> {
        let Some(cluster) = self.cluster.clone() else {
            return Ok(());
        };
        match cluster.claim(name, id).await {
            Ok(None) => Ok(()),
            Ok(Some(holder)) if holder.name.to_lowercase() == name.to_lowercase() => Err((
                ErrorCode::NameTaken,
                format!("the name \"{name}\" is taken"),
            )),
            Ok(Some(holder)) => Err((
                ErrorCode::NameTaken,
                format!(
                    "the name \"{name}\" looks like \"{}\", who is online",
                    holder.name
                ),
            )),
            Err(e) => {
                warn!(client = id, name, error = %e, "cannot claim a name");
                Err((
                    ErrorCode::Unavailable,
                    "the chat is unavailable right now: try again shortly".to_owned(),
                ))
            }
        }
    }

    /// Lets go of `id`'s name `name` in the cluster.
    pub(super) async fn free_in_cluster(&mut self, id: ClientId, name: &str) {
        if let Some(cluster) = &self.cluster {
            cluster.free(name, id).await;
        }
    }

    /// A private message for someone who is not on this node.
    pub(super) async fn private_elsewhere(
        &mut self,
        id: ClientId,
        from: String,
        to: String,
        text: String,
        req_id: Option<String>,
    ) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let holder = match cluster.locate(&to).await {
            Ok(Some(holder)) if holder.node != cluster.node() => holder,
            Ok(_) => {
                let message = format!("nobody called \"{to}\" is online");
                self.error_about(id, ErrorCode::UnknownUser, message, req_id, Some(&to));
                return;
            }
            Err(e) => {
                warn!(client = id, error = %e, "cannot find a name in the cluster");
                self.error_to(id, ErrorCode::Unavailable, UNAVAILABLE.to_owned(), req_id);
                return;
            }
        };
        let time = now_millis();
        let item = InboxItem::Private {
            to: holder.client,
            to_name: holder.name.clone(),
            from: from.clone(),
            text: text.clone(),
            time,
        };
        if let Err(e) = cluster.deliver(&holder.node, &item).await {
            warn!(client = id, error = %e, "cannot reach another node");
            self.error_to(id, ErrorCode::Unavailable, UNAVAILABLE.to_owned(), req_id);
            return;
        }
        let echo = ServerFrame::Private(PrivateMessage {
            time,
            from,
            to: holder.name,
            text,
            id: req_id,
        });
        self.frame_to(id, &echo);
    }

    /// An operator kicks someone who is not on this node.
    pub(super) async fn kick_elsewhere(
        &mut self,
        id: ClientId,
        by: String,
        target: String,
        reason: Option<String>,
    ) {
        let Some(cluster) = self.cluster.clone() else {
            return;
        };
        let holder = match cluster.locate(&target).await {
            Ok(Some(holder)) if holder.node != cluster.node() => holder,
            Ok(_) => {
                let message = format!("nobody called \"{target}\" is online");
                self.error_to(id, ErrorCode::UnknownUser, message, None);
                return;
            }
            Err(e) => {
                warn!(client = id, error = %e, "cannot find a name in the cluster");
                self.error_to(id, ErrorCode::Unavailable, UNAVAILABLE.to_owned(), None);
                return;
            }
        };
        let why = with_reason(format!("kicked by {by}"), reason.as_deref());
        let item = InboxItem::Kick {
            to: holder.client,
            to_name: holder.name,
            by,
            why,
        };
        if let Err(e) = cluster.deliver(&holder.node, &item).await {
            warn!(client = id, error = %e, "cannot reach another node");
            self.error_to(id, ErrorCode::Unavailable, UNAVAILABLE.to_owned(), None);
        }
    }

    /// Something another node sent for a client here: delivered if the
    /// client still holds the name it was meant for.
    pub(super) async fn inbox(&mut self, item: InboxItem) {
        let holds = |d: &Self, to: ClientId, name: &str| {
            d.clients
                .get(&to)
                .and_then(|c| c.name.as_deref())
                .is_some_and(|n| n == name)
        };
        match item {
            InboxItem::Private {
                to,
                to_name,
                from,
                text,
                time,
            } if holds(self, to, &to_name) => {
                let message = PrivateMessage {
                    time,
                    from,
                    to: to_name,
                    text,
                    id: None,
                };
                self.frame_to(to, &ServerFrame::Private(message));
            }
            InboxItem::Kick {
                to,
                to_name,
                by,
                why,
            } if holds(self, to, &to_name) => {
                info!(client = to, name = %to_name, by = %by, why = %why, "kicked from another node");
                self.put_out(to, ErrorCode::Kicked, &by, &why).await;
            }
            _ => {}
        }
    }
}
