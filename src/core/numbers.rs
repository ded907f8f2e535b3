//! Number formatting shared by everything a person reads.

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A float with thousands separators and no decimals beyond what it needs: `1,050`, `12.5`.
pub fn thousands_f(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let rounded = if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 10.0).round() / 10.0
    };
    let sign = if rounded < 0.0 { "-" } else { "" };
    let whole = rounded.abs().trunc() as u64;
    let frac = ((rounded.abs() - whole as f64) * 10.0).round() as u64;
    if frac == 0 {
        format!("{sign}{}", thousands(whole))
    } else {
        format!("{sign}{}.{frac}", thousands(whole))
    }
}

/// `0 ms`, `100 ms`, `1 s`, `10 s`, `-100 ms`.
pub fn delay_label(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs >= 1000 && abs.is_multiple_of(1000) {
        format!("{sign}{} s", thousands(abs / 1000))
    } else {
        format!("{sign}{} ms", thousands(abs))
    }
}

/// A confidence level as a person reads it: 0.9 → `90%`, 0.975 → `97.5%`.
pub fn level(confidence: f64) -> String {
    let mut s = format!("{:.4}", confidence * 100.0);
    let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
    s.truncate(trimmed);
    format!("{s}%")
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }

    #[test]
    fn floats_and_delays_read_naturally() {
        assert_eq!(super::thousands_f(1049.4), "1,049");
        assert_eq!(super::thousands_f(12.34), "12.3");
        assert_eq!(super::thousands_f(-3.0), "-3");
        assert_eq!(super::delay_label(1000), "1 s");
        assert_eq!(super::delay_label(500), "500 ms");
        assert_eq!(super::delay_label(-100), "-100 ms");
        assert_eq!(super::delay_label(-2000), "-2 s");
        assert_eq!(
            super::delay_label(i64::MIN),
            "-9,223,372,036,854,775,808 ms"
        );
    }

    #[test]
    fn confidence_levels_print_as_configured() {
        // 0.95 * 100 is 95.00000000000001 in f64.
        assert_eq!(super::level(0.95).trim_end_matches('%'), "95");
        assert_eq!(super::level(0.9), "90%");
        assert_eq!(super::level(0.975), "97.5%");
        assert_eq!(super::level(0.999), "99.9%");
        assert_eq!(super::level(0.5), "50%");
    }
}
