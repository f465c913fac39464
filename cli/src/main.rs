//! `nfsim`: the command-line face of the engine, for real node dumps and scripts.
//!
//! `nfsim check FILE|-` validates, `nfsim fmt FILE|-` prints the canonical
//! iptables-save text. Exit codes: 0 fine (warnings allowed), 1 errors in the
//! input, 2 usage or I/O problems. All logic lives in the `nfsim` engine; this
//! file reads files, parses flags and prints.

use nfsim::diagnostic::{locate, render_terminal};
use nfsim::{InputFormat, Parsed};
use std::io::{Read, Write};
use std::process::ExitCode;

const USAGE: &str = "usage:
  nfsim check FILE|- [--format text|json] [--input save|commands]
  nfsim fmt   FILE|- [--input save|commands]

check  parse and validate a ruleset; diagnostics go to stderr
       (--format json prints them to stdout as JSON)
fmt    print the canonical iptables-save rendering to stdout
--input forces the input format (default: detected)
exit status: 0 no errors, 1 errors in the input, 2 usage or I/O problems";

struct Args {
    command: String,
    file: String,
    format_json: bool,
    input: Option<InputFormat>,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    let command = it.next().ok_or("missing command")?.clone();
    if !matches!(command.as_str(), "check" | "fmt") {
        return Err(format!("unknown command `{command}'"));
    }
    let mut file = None;
    let mut format_json = false;
    let mut input = None;
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if a.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match flag {
            "--format" => {
                format_json = match value("--format")?.as_str() {
                    "json" => true,
                    "text" => false,
                    v => return Err(format!("--format takes text or json, not `{v}'")),
                }
            }
            "--input" => {
                let v = value("--input")?;
                input = Some(
                    InputFormat::parse(&v)
                        .ok_or(format!("--input takes save or commands, not `{v}'"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            f if f.starts_with('-') && f != "-" => return Err(format!("unknown option `{f}'")),
            _ => {
                if file.replace(a.clone()).is_some() {
                    return Err("only one input file".into());
                }
            }
        }
    }
    if format_json && command == "fmt" {
        return Err("fmt has no --format option".into());
    }
    Ok(Args {
        command,
        file: file.ok_or("missing FILE (or - for standard input)")?,
        format_json,
        input,
    })
}

fn read_input(file: &str) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin().read_to_end(&mut bytes)?;
    } else {
        bytes = std::fs::read(file)?;
    }
    // Valid UTF-8 (the normal case) is taken without a copy: dumps are large.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn json_report(text: &str, parsed: &Parsed) -> String {
    // Exactly the contract's keys, in its order.
    let diags: Vec<serde_json::Value> = locate(text, &parsed.diagnostics)
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "severity": d.severity.as_str(),
                "code": d.code,
                "message": d.message,
                "line": d.line,
                "column": d.column,
                "end_line": d.end_line,
                "end_column": d.end_column,
            })
        })
        .collect();
    let value = serde_json::json!({
        "diagnostics": diags,
        "summary": {
            "tables": parsed.ruleset.tables.len(),
            "chains": parsed.ruleset.chain_count(),
            "rules": parsed.ruleset.rule_count(),
        }
    });
    serde_json::to_string_pretty(&value).expect("serialisable") + "\n"
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("nfsim: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match read_input(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("nfsim: cannot read {}: {e}", args.file);
            return ExitCode::from(2);
        }
    };
    let name = if args.file == "-" {
        "<stdin>"
    } else {
        args.file.as_str()
    };
    let parsed = nfsim::parse(&text, args.input);
    let failed = parsed.has_errors();
    let mut stdout = std::io::stdout().lock();
    let result = match args.command.as_str() {
        "check" if args.format_json => stdout.write_all(json_report(&text, &parsed).as_bytes()),
        "check" => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            Ok(())
        }
        _ => {
            eprint!("{}", render_terminal(name, &text, &parsed.diagnostics));
            if failed {
                Ok(())
            } else {
                stdout.write_all(nfsim::render::render_save(&parsed.ruleset).as_bytes())
            }
        }
    };
    if let Err(e) = result.and_then(|_| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("nfsim: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    // The process ends here: let the OS reclaim the ruleset instead of freeing
    // hundreds of thousands of allocations one by one.
    std::mem::forget(parsed);
    std::mem::forget(text);
    ExitCode::from(u8::from(failed))
}
