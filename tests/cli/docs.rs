//! The committed man pages and completion scripts match what the binary
//! generates from its clap definition.

use std::path::Path;

use crate::support::passerelle;

fn committed(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

#[test]
fn man_pages_match_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let output = passerelle()
        .args(["man", "--output-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut generated: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    assert!(generated.contains(&"passerelle.1".to_string()));
    assert!(generated.contains(&"passerelle-import.1".to_string()));
    for name in &generated {
        let fresh = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(
            fresh == committed(&format!("man/{name}")),
            "man/{name} is out of date; run `cargo run -- man --output-dir man`"
        );
    }
}

#[test]
fn man_page_lists_exit_statuses() {
    let page = committed("man/passerelle.1");
    assert!(page.contains("a safety guard kept listings from being withdrawn"));
}

#[test]
fn completions_match_the_cli() {
    let scripts = [
        ("bash", "completions/passerelle.bash"),
        ("zsh", "completions/_passerelle"),
        ("fish", "completions/passerelle.fish"),
        ("powershell", "completions/_passerelle.ps1"),
        ("elvish", "completions/passerelle.elv"),
    ];
    for (shell, file) in scripts {
        let output = passerelle().args(["completions", shell]).output().unwrap();
        assert!(output.status.success());
        let fresh = String::from_utf8(output.stdout).unwrap();
        assert!(
            fresh == committed(file),
            "{file} is out of date; run `cargo run -- completions {shell} > {file}`"
        );
    }
}
