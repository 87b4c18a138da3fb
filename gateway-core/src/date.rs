//! Dates as JavaScript writes them, for what socket.io sends as text: `JSON.stringify` of a
//! `Date` ([`iso_string`]) and `String(new Date())` ([`js_string`], in UTC).

/// The civil date and time of `secs` seconds since the Unix epoch (UTC): year, month
/// (1–12), day, hours, minutes, seconds, and the weekday (0 = Sunday).
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    (
        year,
        month,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        weekday,
    )
}

/// `ms` milliseconds since the Unix epoch as `Date.prototype.toISOString` (and
/// `JSON.stringify`) writes it.
///
/// ```
/// assert_eq!(gateway_core::date::iso_string(1_704_164_645_678), "2024-01-02T03:04:05.678Z");
/// ```
pub fn iso_string(ms: i64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(ms.div_euclid(1000));
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z",
        ms.rem_euclid(1000)
    )
}

/// `ms` milliseconds since the Unix epoch as `String(new Date(ms))` writes it in UTC
/// (socket.io's `handshake.time`).
///
/// ```
/// assert_eq!(
///     gateway_core::date::js_string(1_704_164_645_678),
///     "Tue Jan 02 2024 03:04:05 GMT+0000 (Coordinated Universal Time)"
/// );
/// ```
pub fn js_string(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = civil(ms.div_euclid(1000));
    format!(
        "{} {} {d:02} {y:04} {h:02}:{mi:02}:{s:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[wd as usize],
        MONTHS[(mo - 1) as usize]
    )
}
