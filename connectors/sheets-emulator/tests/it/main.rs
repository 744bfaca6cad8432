//! The emulator's tests: one binary, one module a subject.

mod conformance;
mod http;
mod oauth;
mod server;
mod sheets;
