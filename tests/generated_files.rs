//! Generated files stay in step with the code: the man pages in `man/` are rendered from the clap
//! definitions. Run with `CRONIX_UPDATE_GENERATED=1` to rewrite them after changing the CLI.

use std::collections::BTreeMap;
use std::path::Path;

fn render(command: clap::Command, name: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    clap_mangen::Man::new(command.name(name))
        .render(&mut buf)
        .unwrap();
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
        pages.insert(format!("{name}.1"), render(sub.clone(), &name));
    }
    pages.insert("cronix.1".to_string(), render(root, "cronix"));
    pages
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
        "man/ has stale or missing pages; run CRONIX_UPDATE_GENERATED=1 cargo test --test generated_files"
    );
    for (name, bytes) in &pages {
        let current = std::fs::read(dir.join(name)).unwrap();
        assert!(
            &current == bytes,
            "man/{name} is stale; run CRONIX_UPDATE_GENERATED=1 cargo test --test generated_files"
        );
    }
}
