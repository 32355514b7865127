//! Dialogs (RFC 3261 §12): identity, route set, CSeq bookkeeping, and building the requests a
//! B2BUA sends inside a dialog (ACK for 2xx, BYE, re-INVITE, REFER…).

use crate::message::{
    CSeq, Message, Method, NameAddr, ParseError, Request, Response, Transport, Uri, Via,
};
use crate::transaction::new_branch;

/// Dialog errors; [`DialogError::status`] maps them to response codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("malformed message: {0}")]
    Malformed(#[from] ParseError),
    #[error("the response carries no To tag")]
    NoRemoteTag,
    #[error("the request carries no From tag")]
    NoFromTag,
    #[error("request does not belong to this dialog")]
    NotThisDialog,
    #[error("CSeq {got} is not above {last}")]
    CSeqOutOfOrder { got: u32, last: u32 },
}

impl DialogError {
    /// Response code for an in-dialog request that fails these checks.
    pub fn status(&self) -> u16 {
        match self {
            DialogError::Malformed(_) | DialogError::NoRemoteTag | DialogError::NoFromTag => 400,
            DialogError::NotThisDialog => 481,
            // §12.2.2: a lower CSeq is answered 500.
            DialogError::CSeqOutOfOrder { .. } => 500,
        }
    }
}

/// What identifies a dialog, from our side: Call-ID, our tag, their tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The id of the dialog a received request belongs to (their From tag, our To tag).
    pub fn of_incoming_request(req: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.headers.call_id().ok()?.to_owned(),
            local_tag: req.headers.to().ok()?.tag()?.to_owned(),
            remote_tag: req.headers.from().ok()?.tag()?.to_owned(),
        })
    }

    /// The id of the dialog a received response belongs to (our From tag, their To tag).
    pub fn of_incoming_response(resp: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: resp.headers.call_id().ok()?.to_owned(),
            local_tag: resp.headers.from().ok()?.tag()?.to_owned(),
            remote_tag: resp.headers.to().ok()?.tag()?.to_owned(),
        })
    }
}

/// Early (after a 1xx with a tag) or confirmed (after a 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    Early,
    Confirmed,
}

/// Where we send from: used to write our Via on requests the dialog builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpoint {
    pub transport: Transport,
    pub host: String,
    pub port: Option<u16>,
    /// Our Contact, sent on target-refreshing requests.
    pub contact: Uri,
}

impl LocalEndpoint {
    /// A Via for a new request with a fresh branch and `rport` (RFC 3581).
    pub fn via(&self) -> Via {
        let mut via = Via {
            transport: self.transport,
            host: self.host.clone(),
            port: self.port,
            params: Default::default(),
        };
        via.params.set("branch", Some(&new_branch()));
        via.params.set("rport", None);
        via
    }
}

/// One dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    state: DialogState,
    local: NameAddr,
    remote: NameAddr,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
    local_cseq: u32,
    remote_cseq: Option<u32>,
    endpoint: LocalEndpoint,
}

impl Dialog {
    /// The dialog a UAC gets from a response with a To tag to its INVITE (§12.1.2): the route
    /// set is the Record-Route reversed, the remote target the Contact.
    pub fn as_uac(
        invite: &Request,
        response: &Response,
        endpoint: LocalEndpoint,
    ) -> Result<Dialog, DialogError> {
        let remote = response.headers.to()?;
        let remote_tag = remote.tag().ok_or(DialogError::NoRemoteTag)?.to_owned();
        let local = invite.headers.from()?;
        let local_tag = local.tag().ok_or(DialogError::NoFromTag)?.to_owned();
        let mut route_set = response.headers.routes("Record-Route")?;
        route_set.reverse();
        Ok(Dialog {
            id: DialogId {
                call_id: invite.headers.call_id()?.to_owned(),
                local_tag,
                remote_tag,
            },
            state: state_for(response.status),
            local,
            remote,
            remote_target: contact_uri(&Message::Response(response.clone()))
                .unwrap_or_else(|| invite.uri.clone()),
            route_set,
            local_cseq: invite.headers.cseq()?.seq,
            remote_cseq: None,
            endpoint,
        })
    }

    /// The dialog a UAS creates when it answers `invite` with a tagged response (§12.1.1):
    /// the route set is the Record-Route in order, the remote target the Contact.
    pub fn as_uas(
        invite: &Request,
        local_tag: &str,
        status: u16,
        endpoint: LocalEndpoint,
    ) -> Result<Dialog, DialogError> {
        let remote = invite.headers.from()?;
        let remote_tag = remote.tag().ok_or(DialogError::NoFromTag)?.to_owned();
        let mut local = invite.headers.to()?;
        local.params.set("tag", Some(local_tag));
        Ok(Dialog {
            id: DialogId {
                call_id: invite.headers.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag,
            },
            state: state_for(status),
            local,
            remote,
            remote_target: contact_uri(&Message::Request(invite.clone()))
                .ok_or(ParseError::Missing("Contact"))?,
            route_set: invite.headers.routes("Record-Route")?,
            local_cseq: 0,
            remote_cseq: Some(invite.headers.cseq()?.seq),
            endpoint,
        })
    }

    /// The dialog's identity.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Where in-dialog requests are addressed (the peer's Contact).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set, in the order requests traverse it.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// The CSeq of the last request we sent.
    pub fn local_cseq(&self) -> u32 {
        self.local_cseq
    }

    /// A 2xx confirms the dialog and refreshes the remote target (§12.2.1.2).
    pub fn on_response(&mut self, response: &Response) {
        if (200..300).contains(&response.status) {
            self.state = DialogState::Confirmed;
            if let Some(target) = contact_uri(&Message::Response(response.clone())) {
                self.remote_target = target;
            }
        }
    }

    /// Checks a request the peer sent in this dialog (§12.2.2): it must carry our ids and a
    /// CSeq above the last one (ACK and CANCEL reuse their INVITE's). A re-INVITE, UPDATE or
    /// target-refreshing request updates the remote target.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if DialogId::of_incoming_request(req).as_ref() != Some(&self.id) {
            return Err(DialogError::NotThisDialog);
        }
        let cseq = req.headers.cseq()?.seq;
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if let Some(last) = self.remote_cseq
                && cseq <= last
            {
                return Err(DialogError::CSeqOutOfOrder { got: cseq, last });
            }
            self.remote_cseq = Some(cseq);
        }
        if matches!(req.method, Method::Invite | Method::Update | Method::Refer)
            && let Some(target) = contact_uri(&Message::Request(req.clone()))
        {
            self.remote_target = target;
        }
        if req.method == Method::Ack {
            self.state = DialogState::Confirmed;
        }
        Ok(())
    }

    /// A new in-dialog request with the next CSeq (§12.2.1.1). Not for ACK (see
    /// [`Dialog::ack`]) or CANCEL (see [`crate::transaction::cancel_for`]).
    pub fn request(&mut self, method: Method) -> Request {
        self.local_cseq = self.local_cseq.saturating_add(1);
        let seq = self.local_cseq;
        self.build(method, seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): a new branch, the
    /// INVITE's CSeq number.
    pub fn ack(&self, invite_seq: u32) -> Request {
        self.build(Method::Ack, invite_seq)
    }

    /// A BYE.
    pub fn bye(&mut self) -> Request {
        self.request(Method::Bye)
    }

    /// A re-INVITE carrying an SDP offer (e.g. hold with `a=sendonly`).
    pub fn reinvite(&mut self, sdp: Vec<u8>) -> Request {
        let mut req = self.request(Method::Invite);
        req.headers.push("Content-Type", "application/sdp");
        req.body = sdp;
        req
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        // Loose routing if the first route has `lr`, else the strict-routing dance.
        let (uri, routes): (Uri, Vec<String>) = match self.route_set.first() {
            Some(first) if !first.uri.is_loose_router() => {
                let mut routes: Vec<String> = self.route_set[1..]
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                routes.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), routes)
            }
            _ => (
                self.remote_target.clone(),
                self.route_set.iter().map(ToString::to_string).collect(),
            ),
        };
        let mut req = Request::new(method.clone(), uri);
        req.headers.push("Via", &self.endpoint.via().to_string());
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", &self.local.to_string());
        req.headers.push("To", &self.remote.to_string());
        req.headers.push("Call-ID", &self.id.call_id);
        req.headers.push(
            "CSeq",
            &CSeq {
                seq,
                method: method.clone(),
            }
            .to_string(),
        );
        for r in &routes {
            req.headers.push("Route", r);
        }
        if matches!(method, Method::Invite | Method::Update | Method::Refer) {
            req.headers
                .push("Contact", &format!("<{}>", self.endpoint.contact));
        }
        req
    }
}

fn state_for(status: u16) -> DialogState {
    if (200..300).contains(&status) {
        DialogState::Confirmed
    } else {
        DialogState::Early
    }
}

fn contact_uri(msg: &Message) -> Option<Uri> {
    match msg.headers().contacts().ok()? {
        crate::message::Contacts::List(list) => list.into_iter().next().map(|c| c.uri),
        crate::message::Contacts::Star => None,
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
