//! Credentials never reach output: URLs are shown without their user info.

/// `text` with the user name and password of every URL in it replaced by
/// `***`, for anything printed or put in an error. Everything from `://` to
/// the last `@` of the same word goes, so a password holding `/` or `@`
/// leaks no piece either.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let word_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | '\'' | '<' | '>'))
            .unwrap_or(tail.len());
        match tail[..word_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &tail[userinfo_end..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Whether a URL carries a user name or password: an `@` before the end of
/// its authority.
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://").is_some_and(|(_, rest)| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        authority.contains('@')
    })
}

/// A token or key: shown as `***` by `Debug`, so no option struct that
/// holds one prints it; [`Secret::expose`] is the one way to the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted_from_every_url_of_a_text() {
        let cases = [
            ("http://u:p@host:9000/x", "http://***@host:9000/x"),
            (
                "at https://key@h and s3://a:b@c/d.",
                "at https://***@h and s3://***@c/d.",
            ),
            ("http://u:p@ss/w@rd@host/path", "http://***@host/path"),
            ("`http://u:p@h` then `x@y`", "`http://***@h` then `x@y`"),
            ("https://host/a?b=c", "https://host/a?b=c"),
            ("no url here: a@b", "no url here: a@b"),
        ];
        for (text, want) in cases {
            assert_eq!(redact_userinfo(text), want, "{text}");
        }
        assert!(has_userinfo("http://u@h") && !has_userinfo("http://h/u@x?"));
    }

    #[test]
    fn a_secret_is_not_in_debug_output() {
        let secret = Secret::new("tok-123".into());
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(***))");
        assert_eq!(secret.expose(), "tok-123");
    }
}
