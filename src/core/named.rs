//! Enums written by name in files, flags and tables: `name` is the one
//! spelling, and reading (serde, clap, `from_name`) goes through it.

pub trait Named: Copy + 'static {
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    /// The variant called `text`; the error lists the names, as serde's does.
    fn from_name(text: &str) -> Result<Self, String> {
        let found = Self::ALL.iter().copied().find(|v| v.name() == text);
        found.ok_or_else(|| {
            let names: Vec<String> = Self::ALL
                .iter()
                .map(|v| format!("`{}`", v.name()))
                .collect();
            format!("unknown variant `{text}`, expected {}", names.join(" or "))
        })
    }
}

/// serde through [`Named`]: put `#[serde(try_from = "String", into = "&'static str")]`
/// on the enum and `named_serde!(Enum);` after it.
macro_rules! named_serde {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = String;

            fn try_from(text: String) -> Result<Self, String> {
                <$t as $crate::core::named::Named>::from_name(&text)
            }
        }

        impl From<$t> for &'static str {
            fn from(value: $t) -> &'static str {
                $crate::core::named::Named::name(value)
            }
        }
    };
}
pub(crate) use named_serde;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
    #[serde(try_from = "String", into = "&'static str")]
    enum Colour {
        Red,
        DarkBlue,
    }

    impl Named for Colour {
        const ALL: &'static [Self] = &[Colour::Red, Colour::DarkBlue];

        fn name(self) -> &'static str {
            match self {
                Colour::Red => "red",
                Colour::DarkBlue => "dark-blue",
            }
        }
    }

    named_serde!(Colour);

    #[test]
    fn names_read_back_and_serde_uses_them() {
        for c in Colour::ALL {
            assert_eq!(Colour::from_name(c.name()), Ok(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
            assert_eq!(serde_json::from_str::<Colour>(&json).unwrap(), *c);
        }
        let err = Colour::from_name("blue").unwrap_err();
        assert_eq!(err, "unknown variant `blue`, expected `red` or `dark-blue`");
    }
}
