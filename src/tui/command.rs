//! The `:` command line: `:launch`, `:hibernate NAME`, `:extend NAME 8`, `:tab costs` …
//!
//! Parsing is pure; [`super::app::App`] carries the commands out through the same paths as the
//! keys, so a command and its key can never behave differently.

use super::action::Action;
use super::app::Tab;

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// An action, on the named workspace (or the selected one when no name is given).
    Act(Action, Option<String>),
    /// `:launch [TEMPLATE]`.
    Launch(Option<String>),
    /// `:extend [NAME] [HOURS]`.
    Extend(Option<String>, Option<i64>),
    Tab(Tab),
    Filter(String),
    Refresh,
    Help,
    Quit,
    /// Crashes the dashboard on purpose, to check that the terminal is restored.
    Panic,
}

/// What `:help` lists: usage, what it does, and whether it changes anything (hidden in a
/// read-only session).
pub const COMMANDS: [(&str, &str, bool); 12] = [
    ("launch [TEMPLATE]", "open the launch form", true),
    ("stop [NAME]", "stop a workspace", true),
    ("start [NAME]", "start (or resume) a workspace", true),
    ("resume [NAME]", "resume a hibernated workspace", true),
    ("hibernate [NAME]", "hibernate a workspace", true),
    (
        "terminate [NAME]",
        "terminate a workspace (asks first)",
        true,
    ),
    ("extend [NAME] [HOURS]", "extend a workspace's TTL", true),
    ("connect [NAME]", "show how to connect", false),
    ("tab NAME|NUMBER", "switch tab", false),
    ("filter TEXT", "filter the list on this tab", false),
    ("refresh", "refresh now", false),
    ("quit", "leave the dashboard", false),
];

/// Parses a command line (without the `:`).
pub fn parse(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&verb, args)) = words.split_first() else {
        return Err("type a command, e.g. :launch or :hibernate NAME (:help lists them)".into());
    };
    let one_name = |action: Action| -> Result<Command, String> {
        match args {
            [] => Ok(Command::Act(action, None)),
            [name] => Ok(Command::Act(action, Some((*name).to_string()))),
            _ => Err(format!(":{verb} takes one workspace name")),
        }
    };
    match verb {
        "launch" | "new" => match args {
            [] => Ok(Command::Launch(None)),
            _ => Ok(Command::Launch(Some(args.join(" ")))),
        },
        "stop" => one_name(Action::Stop),
        "start" => one_name(Action::Start),
        "resume" => one_name(Action::Resume),
        "hibernate" => one_name(Action::Hibernate),
        "terminate" | "delete" => one_name(Action::Terminate),
        "connect" | "ssh" => one_name(Action::Connect),
        "extend" => {
            let hours = |text: &str| {
                text.parse::<i64>()
                    .map_err(|_| format!("'{text}' is not a number of hours"))
            };
            match args {
                [] => Ok(Command::Extend(None, None)),
                [one] if one.chars().all(|c| c.is_ascii_digit()) => {
                    Ok(Command::Extend(None, Some(hours(one)?)))
                }
                [name] => Ok(Command::Extend(Some((*name).to_string()), None)),
                [name, h] => Ok(Command::Extend(Some((*name).to_string()), Some(hours(h)?))),
                _ => Err(":extend takes a workspace name and a number of hours".into()),
            }
        }
        "tab" | "go" => match args {
            [which] => Tab::find(which)
                .map(Command::Tab)
                .ok_or_else(|| format!("no tab '{which}'; tabs are {}", Tab::names())),
            _ => Err(format!(":{verb} takes a tab name or number")),
        },
        "filter" => Ok(Command::Filter(args.join(" "))),
        "refresh" | "r" => Ok(Command::Refresh),
        "help" | "h" | "?" => Ok(Command::Help),
        "quit" | "q" | "exit" => Ok(Command::Quit),
        "debug-panic" => Ok(Command::Panic),
        other => match Tab::find(other) {
            Some(tab) if args.is_empty() => Ok(Command::Tab(tab)),
            _ => Err(format!(
                "unknown command ':{other}' (:help lists the commands)"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("launch", Command::Launch(None))]
    #[case("launch python-ml", Command::Launch(Some("python-ml".into())))]
    #[case("launch Rocky Linux 9 Base", Command::Launch(Some("Rocky Linux 9 Base".into())))]
    #[case("hibernate my-box", Command::Act(Action::Hibernate, Some("my-box".into())))]
    #[case("  stop   my-box ", Command::Act(Action::Stop, Some("my-box".into())))]
    #[case("terminate", Command::Act(Action::Terminate, None))]
    #[case("extend my-box 8", Command::Extend(Some("my-box".into()), Some(8)))]
    #[case("extend 8", Command::Extend(None, Some(8)))]
    #[case("extend my-box", Command::Extend(Some("my-box".into()), None))]
    #[case("tab costs", Command::Tab(Tab::Costs))]
    #[case("tab 2", Command::Tab(Tab::Workspaces))]
    #[case("templates", Command::Tab(Tab::Templates))]
    #[case("filter gpu box", Command::Filter("gpu box".into()))]
    #[case("q", Command::Quit)]
    fn commands_parse(#[case] line: &str, #[case] expected: Command) {
        assert_eq!(parse(line), Ok(expected));
    }

    #[rstest]
    #[case("", "type a command")]
    #[case("explode", "unknown command ':explode'")]
    #[case("stop a b", "one workspace name")]
    #[case("extend box soon", "'soon' is not a number")]
    #[case("tab nine", "no tab 'nine'")]
    fn bad_commands_say_what_is_wrong(#[case] line: &str, #[case] fragment: &str) {
        let error = parse(line).expect_err(line);
        assert!(error.contains(fragment), "{error}");
    }
}
