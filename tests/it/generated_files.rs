//! Generated files stay in step with the code: the man pages in `man/` are rendered from the clap
//! definitions (clap_mangen's sections) and `cronix::manual` (EXAMPLES, EXIT STATUS, FILES,
//! ENVIRONMENT, SEE ALSO). Run with `CRONIX_UPDATE_GENERATED=1` to rewrite them after changing the
//! CLI.

use std::collections::BTreeMap;
use std::path::Path;

use cronix::manual::{self, Block};
use roff::{Roff, bold, roman};

/// clap_mangen's sections (its EXTRA section, the help's `after_help`, is replaced by ours), then
/// the manual's, then the version.
fn render(command: clap::Command, name: &str, sub: Option<&str>) -> Vec<u8> {
    let mut buf = Vec::new();
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let extra = manual::sections(&command, sub);
    let command = command.name(name);
    let has_args = command.get_arguments().any(|a| !a.is_hide_set());
    let has_subs = command.get_subcommands().any(|c| !c.is_hide_set());
    let has_version = command.get_version().is_some() || command.get_long_version().is_some();
    let man = clap_mangen::Man::new(command);
    man.render_title(&mut buf).unwrap();
    man.render_name_section(&mut buf).unwrap();
    man.render_synopsis_section(&mut buf).unwrap();
    man.render_description_section(&mut buf).unwrap();
    if has_args {
        man.render_options_section(&mut buf).unwrap();
    }
    if has_subs {
        man.render_subcommands_section(&mut buf).unwrap();
    }
    let mut roff = Roff::new();
    for section in &extra {
        roff.control("SH", [section.title]);
        for block in &section.blocks {
            match block {
                Block::Text(text) => {
                    roff.control("PP", []).text([roman(text.as_str())]);
                }
                Block::Item(tag, text) => {
                    roff.control("TP", [])
                        .text([bold(tag.as_str())])
                        .text([roman(text.as_str())]);
                }
                Block::Code(code) => {
                    roff.control("PP", []).control("nf", []);
                    for line in code.lines() {
                        roff.text([roman(line)]);
                    }
                    roff.control("fi", []);
                }
            }
        }
    }
    roff.to_writer(&mut buf).unwrap();
    if has_version {
        man.render_version_section(&mut buf).unwrap();
    }
    buf
}

fn expected_pages() -> BTreeMap<String, Vec<u8>> {
    let root = cronix::cli::command();
    let mut pages = BTreeMap::new();
    for sub in root.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let name = format!("cronix-{}", sub.get_name());
        let page = render(sub.clone(), &name, Some(sub.get_name()));
        pages.insert(format!("{name}.1"), page);
    }
    pages.insert("cronix.1".to_string(), render(root, "cronix", None));
    pages
}

#[test]
fn every_man_page_has_the_sections_an_operator_looks_for() {
    for (name, bytes) in expected_pages() {
        let text = String::from_utf8(bytes).unwrap();
        for title in manual::REQUIRED {
            let heading = if title.contains(' ') {
                format!(".SH \"{title}\"")
            } else {
                format!(".SH {title}")
            };
            assert!(text.contains(&heading), "{name} lacks {title}:\n{text}");
        }
        assert!(!text.contains(".SH EXTRA"), "{name}");
    }
}

#[test]
fn man_pages_match_the_cli_definitions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = expected_pages();
    if std::env::var_os("CRONIX_UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, bytes) in &pages {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let wanted: Vec<String> = pages.keys().cloned().collect();
    assert_eq!(
        on_disk, wanted,
        "man/ has stale or missing pages; run CRONIX_UPDATE_GENERATED=1 cargo test --test it generated_files"
    );
    for (name, bytes) in &pages {
        let current = std::fs::read(dir.join(name)).unwrap();
        assert!(
            &current == bytes,
            "man/{name} is stale; run CRONIX_UPDATE_GENERATED=1 cargo test --test it generated_files"
        );
    }
}
