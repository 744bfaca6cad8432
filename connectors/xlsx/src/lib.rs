//! xlsx connector.
