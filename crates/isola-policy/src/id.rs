//! Container IDs: what runc accepts, minus what could escape the state directory.
//! An ID becomes a directory name under `--root`, so it must never hold a path separator
//! or be `.`/`..`.

/// Longest ID accepted (runc has no limit; 1024 keeps paths well under PATH_MAX).
pub const MAX_ID_LEN: usize = 1024;

/// Checks a container ID: `[A-Za-z0-9_+.-]`, not starting with `.`, 1..=1024 characters.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("container id is empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("container id is longer than {MAX_ID_LEN} characters"));
    }
    if id.starts_with('.') {
        return Err(format!("invalid container id {id:?}: it must not start with '.'"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return Err(format!(
            "invalid container id {id:?}: character {c:?} is not allowed (use letters, digits, '_', '+', '-', '.')"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_ids_are_accepted() {
        for id in ["abc", "a1-b_c.d+e", "0123456789abcdef".repeat(4).as_str()] {
            assert!(validate_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn ids_that_could_escape_the_state_dir_are_refused() {
        for id in ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "a b", "a\0b", "ü"] {
            assert!(validate_id(id).is_err(), "{id:?} was accepted");
        }
        assert!(validate_id(&"x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
