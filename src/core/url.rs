//! The parts of a request URL that a pipeline file can name: its path, and
//! a query parameter by the one pattern the transform extracts it with.

/// The regex whose first group is the value of query parameter `name`, as
/// `[transform.*] url_query` extracts it (raw, not percent-decoded).
pub fn query_pattern(name: &str) -> String {
    format!("[?&]{}=([^&#]*)", regex::escape(name))
}

/// The regex of a query parameter that names a request: as
/// [`query_pattern`], but an empty value is no id (it would join every leg
/// that has one).
pub fn query_id_pattern(name: &str) -> String {
    format!("[?&]{}=([^&#]+)", regex::escape(name))
}

/// A regex of an absolute URL up to its path: scheme and host, anchored.
pub const URL_HEAD: &str = "^[a-z][a-z0-9+.-]*://[^/?#]*";

/// The path of an absolute URL (`/a/b` of `https://h/a/b?x#y`); `/` when it
/// has none, `None` when `url` has no scheme and host.
pub fn path_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let rest = &rest[rest.find(['/', '?', '#']).unwrap_or(rest.len())..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(match &rest[..end] {
        "" => "/",
        path => path,
    })
}

/// The query of a URL (after `?`, before `#`), if any.
pub fn query_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once('?')?;
    Some(&rest[..rest.find('#').unwrap_or(rest.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries() {
        assert_eq!(path_of("https://h.example/a/b?x=1#f"), Some("/a/b"));
        assert_eq!(path_of("https://h.example?x=1"), Some("/"));
        assert_eq!(path_of("https://h.example"), Some("/"));
        assert_eq!(path_of("/relative"), None);
        assert_eq!(query_of("https://h/a?x=1&y=2#f"), Some("x=1&y=2"));
        assert_eq!(query_of("https://h/a"), None);
        let re = regex::Regex::new(&query_pattern("a.b")).unwrap();
        assert_eq!(&re.captures("https://h/?x=1&a.b=7").unwrap()[1], "7");
        assert!(re.captures("https://h/?aXb=7").is_none());
    }
}
