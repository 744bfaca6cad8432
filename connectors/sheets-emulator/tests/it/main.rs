//! The emulator's tests: one binary, one module a subject.

mod conformance;
mod http;
mod server;
mod sheets;
