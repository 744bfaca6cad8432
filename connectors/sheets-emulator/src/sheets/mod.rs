//! The Sheets v4 API: spreadsheets, values, batch updates, developer metadata.

use crate::oauth::Identity;
use crate::server::{google_error, HttpRequest, HttpResponse};
use crate::{Quota, Shared};

/// Every spreadsheet the emulator holds.
#[derive(Debug)]
pub struct Store {
    quota: Quota,
}

impl Store {
    pub fn new(quota: Quota) -> Store {
        Store { quota }
    }

    pub fn quota(&self) -> Quota {
        self.quota
    }
}

pub(crate) fn handle(_shared: &Shared, _request: &HttpRequest, identity: Option<Identity>) -> HttpResponse {
    if identity.is_none() {
        return google_error(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. \
             See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
    }
    google_error(404, "Requested entity was not found.")
}

pub(crate) fn admin(_shared: &Shared, _request: &HttpRequest, _rest: &str) -> HttpResponse {
    google_error(404, "Not Found")
}
