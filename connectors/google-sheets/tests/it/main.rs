//! The connector's tests, against the Sheets emulator: one binary, one module a subject.
