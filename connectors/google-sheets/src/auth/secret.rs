//! A value that must never reach a log, an error, a panic or test output.

/// A token, client secret or private key. Its `Debug` and `Display` print `_`;
/// [`Secret::expose`] is the one way to the text, used where it is sent.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, to put in a request or a file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_prints_as_an_underscore_everywhere() {
        let s = Secret::new("1//0abc-refresh");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "_ _ _");
        assert_eq!(format!("{:?}", Some(vec![s.clone()])), "Some([_])");
        assert_eq!(s.expose(), "1//0abc-refresh");
    }
}
