//! The emulator's tests: one binary, one module a subject.

mod oauth;
mod server;
