//! Logging switched on from the environment, as Pyro4 does: `PYRO_LOGLEVEL` (DEBUG,
//! INFO, WARNING or ERROR, any case) and `PYRO_LOGFILE` (a path; stderr if unset). It is
//! a debugging aid that needs no code change in the host, so it writes from whichever
//! library thread logs, at once: waiting for the host's dispatch would lose exactly the
//! messages of a host that is stuck.

use super::context::LogLevel;
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

pub(crate) struct EnvLog {
    max: LogLevel,
    /// None: stderr. Lines are written whole under the lock so threads do not interleave.
    file: Mutex<Option<File>>,
}

impl EnvLog {
    /// The log the environment asks for, or None (the variable unset, empty or unknown).
    pub(crate) fn from_env() -> Option<EnvLog> {
        let max = parse_level(&std::env::var("PYRO_LOGLEVEL").ok()?)?;
        let file = match std::env::var_os("PYRO_LOGFILE") {
            Some(path) if !path.is_empty() => {
                match File::options().create(true).append(true).open(&path) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        // Where else could this go: the user asked for a log and gets none.
                        eprintln!(
                            "pyro_async WARNING: cannot open PYRO_LOGFILE {}: {e}; logging to stderr",
                            path.to_string_lossy()
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        Some(EnvLog {
            max,
            file: Mutex::new(file),
        })
    }

    pub(crate) fn enabled(&self, level: LogLevel) -> bool {
        level <= self.max
    }

    pub(crate) fn write(&self, level: LogLevel, message: &str) {
        let name = match level {
            LogLevel::Error => "ERROR",
            LogLevel::Warning => "WARNING",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        };
        let line = format!("pyro_async {name}: {message}\n");
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // A log that cannot be written is dropped: logging must never fail a call.
        let _ = match file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => std::io::stderr().write_all(line.as_bytes()),
        };
    }
}

fn parse_level(s: &str) -> Option<LogLevel> {
    Some(match s.trim().to_ascii_uppercase().as_str() {
        "DEBUG" => LogLevel::Debug,
        "INFO" => LogLevel::Info,
        "WARNING" | "WARN" => LogLevel::Warning,
        // Python's logging has CRITICAL above ERROR; this library logs nothing above it.
        "ERROR" | "CRITICAL" => LogLevel::Error,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case() {
        assert_eq!(parse_level("debug"), Some(LogLevel::Debug));
        assert_eq!(parse_level(" Info "), Some(LogLevel::Info));
        assert_eq!(parse_level("WARNING"), Some(LogLevel::Warning));
        assert_eq!(parse_level("error"), Some(LogLevel::Error));
        assert_eq!(parse_level(""), None);
        assert_eq!(parse_level("verbose"), None);
    }
}
