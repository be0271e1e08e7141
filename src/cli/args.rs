//! A command's arguments: `--name value` options, `--switch` flags and positional values.

/// Parsed arguments.
#[derive(Debug, Default)]
pub struct Args {
    values: Vec<(String, String)>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `args`: each of `options` takes a value, each of `switches` none; anything
    /// else starting with `--` is an error.
    pub fn parse(args: &[String], options: &[&str], switches: &[&str]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let name = arg.as_str();
            if options.contains(&name) {
                let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
                parsed.values.push((name.to_string(), value.clone()));
            } else if switches.contains(&name) {
                parsed.switches.push(name.to_string());
            } else if name.starts_with("--") {
                return Err(format!("unknown argument {name:?}"));
            } else {
                parsed.positional.push(arg.clone());
            }
        }
        Ok(parsed)
    }

    /// The value of option `name`, if given (the last one, if given twice).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required"))
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// A whole number from `min` to `max`, if given.
    pub fn number(&self, name: &str, min: usize, max: usize) -> Result<Option<usize>, String> {
        self.value(name)
            .map(|v| {
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| format!("{name} takes a number from {min} to {max}, not {v:?}"))
            })
            .transpose()
    }

    /// One of `allowed`, if given.
    pub fn choice(&self, name: &str, allowed: &[&str]) -> Result<Option<&str>, String> {
        match self.value(name) {
            Some(v) if !allowed.contains(&v) => Err(format!(
                "{name} takes one of {}, not {v:?}",
                allowed.join(", ")
            )),
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_switches_and_positional_values() {
        let args = Args::parse(
            &strings(&["--bucket", "b", "--clear", "text", "--n", "3"]),
            &["--bucket", "--n"],
            &["--clear"],
        )
        .unwrap();
        assert_eq!(args.value("--bucket"), Some("b"));
        assert!(args.switch("--clear"));
        assert_eq!(args.positional, ["text"]);
        assert_eq!(args.number("--n", 1, 9), Ok(Some(3)));
        assert!(args.number("--n", 5, 9).is_err());
        assert!(Args::parse(&strings(&["--bucket"]), &["--bucket"], &[]).is_err());
        assert!(Args::parse(&strings(&["--nope"]), &[], &[]).is_err());
    }
}
